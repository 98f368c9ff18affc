using System.CommandLine;
using System.Globalization;
using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

internal static class ListCommand
{
    /// <summary>The API's page size when no <c>--limit</c> is given.</summary>
    private const int ApiDefaultLimit = 50;

    public static Command Create(CliContext context, GlobalOptions global)
    {
        var filter = new FilterOptions();
        var fingerprint = new Option<string?>("--fingerprint") { Description = "Failure group (see 'groups')", HelpName = "FINGERPRINT" };
        var limit = new Option<int?>("--limit") { Description = $"At most this many, newest failure first [API default: {ApiDefaultLimit}, max 500]", HelpName = "N", CustomParser = Parsers.PositiveInt };
        var status = new Option<string?>("--status") { Description = "dead, replayed or archived [default: dead]", HelpName = "STATUS" };
        status.AcceptOnlyFromAmong("dead", "replayed", "archived");
        var cursor = new Option<string?>("--cursor") { Description = "The page after the one that printed this cursor", HelpName = "CURSOR" };
        var command = new Command("list", "List dead letters, newest failure first");
        filter.AddTo(command);
        command.Options.Add(fingerprint);
        command.Options.Add(limit);
        command.Options.Add(status);
        command.Options.Add(cursor);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var f = filter.Read(parse);
            var query = DeadLetterApiClient.Query(
                ("queue", f?.Queue), ("messageType", f?.MessageType), ("exception", f?.Exception), ("fingerprint", parse.GetValue(fingerprint)),
                ("from", FilterOptions.Iso(f?.From)), ("to", FilterOptions.Iso(f?.To)), ("q", f?.Q),
                ("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)), ("status", parse.GetValue(status)), ("cursor", parse.GetValue(cursor)));
            var response = await session.Api.GetAsync(DeadLetterApiClient.Root + query, cancellationToken);
            var page = DeadLetterApiClient.Read<DeadLetterPage>(response);
            session.Print(response, () => Print(session, page.Items));
            if (page.Next is { } next)
            {
                // On stderr: a script reading stdout must not take the hint for a row.
                session.Error.WriteLine($"note: showing {page.Items.Count} of {page.Total}; the next page: --cursor {next}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static void Print(Session session, IReadOnlyList<DeadLetterSummary> letters)
    {
        if (letters.Count == 0)
        {
            session.Out.WriteLine("No dead letters.");
            return;
        }

        var table = new TextTable()
            .Column("ID")
            .Column("QUEUE", 30)
            .Column("MESSAGE TYPE", 30)
            .Column("EXCEPTION", 30)
            .Column("FAILURES")
            .Column("LAST FAILED")
            .Column("STATUS");
        foreach (var letter in letters)
        {
            table.Row(
                letter.MessageId.ToString(), letter.SourceQueue, Cells.ShortTypeName(letter.MessageType), Cells.ShortTypeName(letter.ExceptionType),
                letter.FailureCount.ToString(CultureInfo.InvariantCulture), Cells.Time(letter.LastFailedAt), letter.Status);
        }

        table.Write(session.Out);
    }
}
