using System.CommandLine;
using System.Text.Json;
using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

internal static class ShowCommand
{
    public static Command Create(CliContext context, GlobalOptions global)
    {
        var messageId = MessageIdArgument();
        var body = new Option<bool>("--body") { Description = "Also read the body (a body read is audited; without it, nothing is)" };
        var command = new Command("show", "One dead letter: failure, history and headers; the body with --body");
        command.Arguments.Add(messageId);
        command.Options.Add(body);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var path = $"{DeadLetterApiClient.Root}/{parse.GetValue(messageId)}";
            var response = await session.Api.GetAsync(path, cancellationToken);
            var detail = DeadLetterApiClient.Read<DeadLetterDetail>(response);
            if (!parse.GetValue(body))
            {
                session.Print(response, () => Print(session.Out, detail, body: null));
                return ExitCodes.Success;
            }

            var bodyResponse = await session.Api.GetAsync(path + "/body", cancellationToken);
            var read = DeadLetterApiClient.Read<DeadLetterBody>(bodyResponse);
            // --json prints the body endpoint's answer: the part the operator asked for beyond the plain show.
            session.Print(bodyResponse, () => Print(session.Out, detail, read.Body ?? ""));
            return ExitCodes.Success;
        });
        return command;
    }

    public static Argument<Guid> MessageIdArgument() =>
        new("messageId") { Description = "The dead letter's message id (a GUID)", CustomParser = Parsers.MessageId };

    /// <param name="body">The body when it was asked for; null prints how to ask.</param>
    private static void Print(TextWriter output, DeadLetterDetail detail, string? body)
    {
        var s = detail.Summary;
        var fields = new (string Key, string? Value)[]
        {
            ("Message id", s.MessageId.ToString()),
            ("Status", s.Status),
            ("Message type", s.MessageType),
            ("Source queue", s.SourceQueue),
            ("Target queue", s.TargetQueue),
            ("Reason", s.Reason),
            ("Exception", s.ExceptionType),
            ("Exception message", s.ExceptionMessage),
            ("Fingerprint", s.Fingerprint),
            ("Failures", s.FailureCount.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("First failed", Cells.Time(s.FirstFailedAt)),
            ("Last failed", Cells.Time(s.LastFailedAt)),
            ("Correlation id", detail.CorrelationId?.ToString()),
            ("Consumer", detail.ConsumerType),
            ("Host", detail.Host),
            ("Content type", detail.ContentType),
        };
        if (detail.InputAddressMismatch is { Length: > 0 } mismatch)
        {
            // A forged or misrouted fault header: the operator should know before replaying where it claims to be from.
            fields = [.. fields, ("Input address", "MISMATCH: " + mismatch)];
        }

        var width = fields.Max(f => f.Key.Length) + 1;
        foreach (var (key, value) in fields)
        {
            output.WriteLine($"{(key + ":").PadRight(width)} {(string.IsNullOrEmpty(value) ? "-" : value)}");
        }

        if (!string.IsNullOrWhiteSpace(detail.StackTrace))
        {
            output.WriteLine();
            output.WriteLine("Stack trace:");
            output.WriteLine(detail.StackTrace.TrimEnd());
        }

        // What each attempt died of and who sent it back: the story of a message that failed again after a replay.
        if (detail.Failures is { Count: > 0 } failures)
        {
            output.WriteLine();
            output.WriteLine("History:");
            var events = failures.Select(f => (f.FailedAt, $"failed in {f.SourceQueue}: {f.ExceptionType} {f.ExceptionMessage}".TrimEnd()))
                .Concat((detail.Replays ?? []).Select(r => (r.RequestedAt,
                    $"replay of failure {r.FailureCount} by {r.RequestedBy}: {r.Status}{(r.ConfirmedAt is { } at ? $" at {Cells.Time(at)}" : "")}")))
                .OrderBy(x => x.Item1);
            foreach (var (at, what) in events)
            {
                output.WriteLine($"  {Cells.Time(at)}  {what}");
            }
        }

        output.WriteLine();
        output.WriteLine("Headers:");
        WriteHeaders(output, detail.Headers);
        output.WriteLine();
        if (body is null)
        {
            output.WriteLine($"Body: {detail.BodyLength} bytes (show it with --body; the read is audited)");
            return;
        }

        output.WriteLine("Body:");
        output.WriteLine(string.IsNullOrEmpty(body) ? "(empty)" : JsonOutput.TryPretty(body) ?? body);
    }

    /// <summary>One header a line; headers that are not a JSON object are shown as they are rather than hidden.</summary>
    private static void WriteHeaders(TextWriter output, string? headers)
    {
        if (string.IsNullOrWhiteSpace(headers))
        {
            output.WriteLine("  (none)");
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(headers);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                var any = false;
                foreach (var header in document.RootElement.EnumerateObject())
                {
                    var value = header.Value.ValueKind == JsonValueKind.String ? header.Value.GetString() : header.Value.GetRawText();
                    output.WriteLine($"  {header.Name}: {value}");
                    any = true;
                }

                if (!any)
                {
                    output.WriteLine("  (none)");
                }

                return;
            }
        }
        catch (JsonException)
        {
            // Not JSON: shown as it is below.
        }

        output.WriteLine("  " + headers);
    }
}
