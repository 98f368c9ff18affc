using EventBackbone.Cli;

// The real console, network and environment; everything else lives in BackboneCli so tests run it in-process.
using var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
var context = new CliContext(handler, Console.Out, Console.Error, Environment.GetEnvironmentVariable, ErrorIsTerminal: !Console.IsErrorRedirected);
return await BackboneCli.RunAsync(args, context);
