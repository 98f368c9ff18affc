using System.CommandLine;
using System.CommandLine.Help;
using EventBackbone.Cli.Commands;

namespace EventBackbone.Cli;

/// <summary>The whole tool behind <c>Program</c>: parse, run one verb, return the exit code.</summary>
public static class BackboneCli
{
    public const string Name = "backbone";

    public const string ExitCodeHelp = """
        Exit codes:
          0    success
          1    a replay job finished, but some messages failed or were not found
          2    usage error: bad arguments, a malformed GUID or date, nothing selected, a missing reason
          3    not authenticated or not allowed (HTTP 401/403)
          4    not found (HTTP 404)
          5    refused by the API (HTTP 409, 422, other 4xx)
          6    API unreachable or failing: connection refused, timeout, HTTP 5xx, an unreadable answer
          130  interrupted (Ctrl+C); a replay job keeps running on the server
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context, CancellationToken cancellationToken = default)
    {
        // No response files: an argument such as --reason @oncall must stay the text the operator typed.
        var parse = CreateRoot(context).Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            // System.CommandLine would exit 1, which scripts here read as "a replay partly failed".
            foreach (var error in parse.Errors)
            {
                context.Error.WriteLine($"error: {error.Message}");
            }

            context.Error.WriteLine($"Run '{VerbAction.CommandPath(parse)} --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(
            new InvocationConfiguration { Output = context.Out, Error = context.Error, EnableDefaultExceptionHandler = false },
            cancellationToken);
    }

    internal static RootCommand CreateRoot(CliContext context)
    {
        var global = new GlobalOptions();
        var deadLetters = new Command("dead-letters", "Inspect, replay, archive and delete dead letters through the dead-letter API")
        {
            ListCommand.Create(context, global),
            GroupsCommand.Create(context, global),
            ShowCommand.Create(context, global),
            ReplayCommand.Create(context, global),
            ReplayCommand.Job(context, global),
            ReplayCommand.Jobs(context, global),
            StatusCommand.Archive(context, global),
            StatusCommand.Restore(context, global),
            DeleteCommand.Create(context, global),
            AuditCommand.Create(context, global),
        };
        var root = new RootCommand("The EventBackbone operators' tool.\n\n" + ExitCodeHelp) { deadLetters };
        global.AddTo(root);
        return root;
    }
}
