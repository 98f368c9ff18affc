using EventBackbone.Cli;

// The real console, network and environment; everything else lives in BackboneCli so tests run it in-process.
// No automatic redirects: the token is for the origin the operator gave, and a redirect elsewhere is reported, not followed.
using var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10), AllowAutoRedirect = false };
var context = new CliContext(handler, Console.Out, Console.Error, Environment.GetEnvironmentVariable, ErrorIsTerminal: !Console.IsErrorRedirected);
return await BackboneCli.RunAsync(args, context);
