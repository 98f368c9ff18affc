using System.CommandLine;
using System.Globalization;
using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

internal static class ListCommand
{
    /// <summary>The API's page size when no <c>--limit</c> is given.</summary>
    private const int ApiDefaultLimit = 100;

    public static Command Create(CliContext context, GlobalOptions global)
    {
        var filter = new FilterOptions();
        var fingerprint = new Option<string?>("--fingerprint") { Description = "Failure group (see 'groups')", HelpName = "FINGERPRINT" };
        var limit = new Option<int?>("--limit") { Description = $"At most this many, newest failure first [API default: {ApiDefaultLimit}, max 500]", HelpName = "N", CustomParser = Parsers.PositiveInt };
        var command = new Command("list", "List dead letters, newest failure first");
        filter.AddTo(command);
        command.Options.Add(fingerprint);
        command.Options.Add(limit);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var f = filter.Read(parse);
            var query = DeadLetterApiClient.Query(
                ("queue", f?.Queue), ("messageType", f?.MessageType), ("exception", f?.Exception), ("fingerprint", parse.GetValue(fingerprint)),
                ("from", FilterOptions.Iso(f?.From)), ("to", FilterOptions.Iso(f?.To)), ("q", f?.Q),
                ("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)));
            var response = await session.Api.GetAsync(DeadLetterApiClient.Root + query, cancellationToken);
            var letters = DeadLetterApiClient.Read<List<DeadLetterSummary>>(response);
            session.Print(response, () => Print(session, letters));
            if (letters.Count > 0 && letters.Count == (parse.GetValue(limit) ?? ApiDefaultLimit))
            {
                // On stderr: a script reading stdout must not take the hint for a row.
                session.Error.WriteLine($"note: showing the first {letters.Count}; there may be more (use --limit or a filter).");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static void Print(Session session, List<DeadLetterSummary> letters)
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
