using System.CommandLine;
using System.Globalization;
using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

internal static class AuditCommand
{
    public static Command Create(CliContext context, GlobalOptions global)
    {
        var limit = new Option<int?>("--limit") { Description = "At most this many, newest first [API default: 100, max 1000]", HelpName = "N", CustomParser = Parsers.PositiveInt };
        var command = new Command("audit", "Who did what to which dead letter, newest first");
        command.Options.Add(limit);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var query = DeadLetterApiClient.Query(("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)));
            var response = await session.Api.GetAsync(DeadLetterApiClient.Root + "/audit" + query, cancellationToken);
            var entries = DeadLetterApiClient.Read<List<AuditEntry>>(response);
            session.Print(response, () => Print(session.Out, entries));
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Print(TextWriter output, List<AuditEntry> entries)
    {
        if (entries.Count == 0)
        {
            output.WriteLine("No audit entries.");
            return;
        }

        var table = new TextTable()
            .Column("ID")
            .Column("AT")
            .Column("ACTOR", 24)
            .Column("ACTION", 16)
            .Column("MESSAGE ID")
            .Column("DETAIL", 50);
        foreach (var entry in entries)
        {
            table.Row(
                entry.Id.ToString(CultureInfo.InvariantCulture), Cells.Time(entry.At), entry.Actor, entry.Action, entry.MessageId?.ToString(), entry.Detail);
        }

        table.Write(output);
    }
}
