using System.CommandLine;

namespace EventBackbone.Cli.Commands;

/// <summary>
/// Runs a verb with an API session and turns every expected failure into its message on stderr and its exit code,
/// so no verb repeats the error handling and no operator sees a stack trace.
/// </summary>
internal static class VerbAction
{
    public static void SetVerbAction(
        this Command command, CliContext context, GlobalOptions global, Func<ParseResult, Session, CancellationToken, Task<int>> verb)
    {
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                using var http = new HttpClient(context.Handler, disposeHandler: false) { Timeout = context.RequestTimeout };
                var session = new Session(global.Connect(parse, http, context.GetEnvironmentVariable), context, parse.GetValue(global.Json));
                return await verb(parse, session, cancellationToken);
            }
            catch (CliException failure)
            {
                using var error = new Output.TerminalSafeWriter(context.Error);
                Report(error, failure, parse);
                return failure.ExitCode;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                context.Error.WriteLine("error: interrupted");
                return ExitCodes.Interrupted;
            }
        });
    }

    public static void Report(TextWriter error, CliException failure, ParseResult parse)
    {
        error.WriteLine($"error: {failure.Message}");
        foreach (var line in failure.Details)
        {
            error.WriteLine(line);
        }

        if (failure.ExitCode == ExitCodes.Usage)
        {
            error.WriteLine($"Run '{CommandPath(parse)} --help' for usage.");
        }
    }

    /// <summary>e.g. <c>backbone dead-letters replay</c>, whatever the executable is called.</summary>
    public static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(result.Parent is null ? BackboneCli.Name : result.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }
}
