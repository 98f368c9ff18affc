using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

internal static class AuditCommand
{
    /// <summary>With <c>--all</c>: enough for any investigation, bounded so a server that always says "next" cannot loop us for ever.</summary>
    private const int MaxPages = 1000;

    public static Command Create(CliContext context, GlobalOptions global)
    {
        var actor = new Option<string?>("--actor") { Description = "Only this caller (the token's subject, or 'anonymous')", HelpName = "SUBJECT" };
        var action = new Option<string?>("--action") { Description = "Only this action, e.g. delete, archive, replay, read-body, refused-401, refused-403", HelpName = "ACTION" };
        var messageId = new Option<Guid?>("--message-id") { Description = "Only entries about this dead letter", HelpName = "GUID", CustomParser = Parsers.OptionalMessageId };
        var from = new Option<DateTimeOffset?>("--from") { Description = "At or after this time (ISO 8601; UTC unless an offset is given)", HelpName = "TIME", CustomParser = Parsers.Time };
        var to = new Option<DateTimeOffset?>("--to") { Description = "Before this time (ISO 8601; UTC unless an offset is given)", HelpName = "TIME", CustomParser = Parsers.Time };
        var limit = new Option<int?>("--limit") { Description = "At most this many a page, newest first [API default: 100, max 1000]", HelpName = "N", CustomParser = Parsers.PositiveInt };
        var cursor = new Option<string?>("--cursor") { Description = "Continue after the page that named this cursor", HelpName = "CURSOR" };
        var all = new Option<bool>("--all") { Description = "Follow the pages to the oldest entry and print them as one" };
        var command = new Command("audit", "Who did what to which dead letter, newest first, a page at a time");
        foreach (var option in new Option[] { actor, action, messageId, from, to, limit, cursor, all })
        {
            command.Options.Add(option);
        }

        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var query = DeadLetterApiClient.Query(
                ("actor", parse.GetValue(actor)),
                ("action", parse.GetValue(action)),
                ("messageId", parse.GetValue(messageId)?.ToString()),
                ("from", FilterOptions.Iso(parse.GetValue(from))),
                ("to", FilterOptions.Iso(parse.GetValue(to))),
                ("limit", parse.GetValue(limit)?.ToString(CultureInfo.InvariantCulture)),
                ("cursor", parse.GetValue(cursor)));
            var response = await session.Api.GetAsync(DeadLetterApiClient.Root + "/audit" + query, cancellationToken);
            var entries = DeadLetterApiClient.Read<List<AuditEntry>>(response);
            var bodies = new List<string> { response.Body };
            if (parse.GetValue(all))
            {
                // Each next link is followed as the API wrote it (same filters, its cursor); the client refuses one
                // that leaves the origin given.
                for (var pages = 1; response.Next is { } next && pages < MaxPages; pages++)
                {
                    response = await session.Api.GetAsync(next.AbsoluteUri, cancellationToken);
                    entries.AddRange(DeadLetterApiClient.Read<List<AuditEntry>>(response));
                    bodies.Add(response.Body);
                }
            }

            if (session.Json)
            {
                // One array of every page read, each entry as the API wrote it.
                JsonOutput.Write(session.Out, bodies.Count == 1 ? bodies[0] : Concatenate(bodies));
            }
            else
            {
                Print(session.Out, entries);
            }

            if (response.Next is { } more)
            {
                // On stderr: stdout stays the table or the JSON alone.
                session.Error.WriteLine($"note: there are older entries; continue with --cursor {CursorOf(more)} (or --all)");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static string Concatenate(List<string> arrays)
    {
        var items = arrays.SelectMany(body =>
        {
            using var page = JsonDocument.Parse(body);
            return page.RootElement.EnumerateArray().Select(entry => entry.GetRawText()).ToList();
        });
        return "[" + string.Join(',', items) + "]";
    }

    private static string CursorOf(Uri next) =>
        next.Query.TrimStart('?').Split('&')
            .Select(pair => pair.Split('=', 2))
            .Where(pair => pair.Length == 2 && pair[0] == "cursor")
            .Select(pair => Uri.UnescapeDataString(pair[1]))
            .FirstOrDefault() ?? next.PathAndQuery;

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
