using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using RabbitMQ.Client;

namespace EventBackbone.DeadLetters.Capture;

/// <summary>What a message in an error or skipped queue tells about its failure, read from MassTransit's fault headers.</summary>
public sealed partial record CapturedMessage(
    Guid MessageId,
    Guid? CorrelationId,
    string SourceQueue,
    string TargetQueue,
    string Reason,
    string? MessageType,
    string? ExceptionType,
    string? ExceptionMessage,
    string? StackTrace,
    string? ConsumerType,
    string? Host,
    string Fingerprint,
    string? ContentType,
    byte[] Body,
    string HeadersJson,
    DateTimeOffset FailedAt,
    string? InputAddressMismatch = null)
{
    public const string ErrorSuffix = "_error";
    public const string SkippedSuffix = "_skipped";

    public static bool IsDeadLetterQueue(string queue) =>
        queue.EndsWith(ErrorSuffix, StringComparison.Ordinal) || queue.EndsWith(SkippedSuffix, StringComparison.Ordinal);

    public static CapturedMessage From(string queue, IReadOnlyBasicProperties properties, ReadOnlyMemory<byte> body, DateTimeOffset capturedAt) =>
        From(
            queue,
            (properties.Headers ?? new Dictionary<string, object?>()).ToDictionary(x => x.Key, x => Plain(x.Value), StringComparer.Ordinal),
            properties.MessageId,
            properties.CorrelationId,
            properties.ContentType,
            body.ToArray(),
            capturedAt);

    /// <summary>
    /// The same record from a message's headers (plain values), ids and body, whatever carried them: embedded mode
    /// captures in-process from MassTransit's error pipe, and must store what this service stores from RabbitMQ.
    /// </summary>
    public static CapturedMessage From(
        string queue, Dictionary<string, object?> headers, string? messageId, string? correlationId, string? contentType, byte[] bodyBytes, DateTimeOffset capturedAt)
    {
        string? Header(string name) => headers.TryGetValue(name, out var value) ? value?.ToString() : null;
        var skipped = queue.EndsWith(SkippedSuffix, StringComparison.Ordinal);
        // The replay target: the queue this error queue belongs to, never the message-type exchange (that would fan
        // out again), and never what MT-Fault-InputAddress says: anyone who may publish to an error queue can write
        // that header, and following it let a forged message joined to a fingerprint group be replayed anywhere.
        var target = TargetOf(queue);
        var input = Header("MT-Fault-InputAddress");
        // A body that did not deserialize into its contract (an id that is not a GUID) faults with an empty
        // MT-Fault-MessageType: without the envelope's own type the operator could not edit and replay it ("The message
        // type '' is not a known contract").
        var messageType = NonEmpty(Header("MT-Fault-MessageType")) ?? NonEmpty(Header("MT-MessageType")) ?? EnvelopeMessageType(bodyBytes);
        var exceptionType = Header("MT-Fault-ExceptionType");
        var stackTrace = Header("MT-Fault-StackTrace");
        var failedAt = DateTimeOffset.TryParse(Header("MT-Fault-Timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : capturedAt;
        return new CapturedMessage(
            Guid.TryParse(messageId, out var id) ? id : DeterministicId(queue, bodyBytes),
            Guid.TryParse(correlationId, out var correlation) ? correlation : null,
            queue,
            target,
            skipped ? "skipped" : "fault",
            messageType,
            exceptionType,
            Header("MT-Fault-Message"),
            stackTrace,
            Header("MT-Fault-ConsumerType"),
            Header("MT-Host-MachineName"),
            FingerprintOf(exceptionType ?? (skipped ? "skipped" : "unknown"), messageType, TopApplicationFrame(stackTrace)),
            contentType,
            bodyBytes,
            JsonSerializer.Serialize(headers),
            failedAt,
            MismatchOf(input, target));
    }

    /// <summary>
    /// The queue a dead letter captured from <paramref name="sourceQueue"/> is replayed to: that queue without its
    /// <c>_error</c>/<c>_skipped</c> suffix. The replayer derives it again rather than trusting the stored target:
    /// rows an older version stored took their target from a forgeable header.
    /// </summary>
    public static string TargetOf(string sourceQueue) => sourceQueue[..sourceQueue.LastIndexOf('_')];

    /// <summary>
    /// Why the fault's input address does not name <paramref name="target"/>, for operators to see; null when it does
    /// (or is absent). Only recorded: an address without a path once threw here, and the message was requeued for ever.
    /// </summary>
    public static string? MismatchOf(string? inputAddress, string target)
    {
        if (inputAddress is null)
        {
            return null;
        }

        var named = Uri.TryCreate(inputAddress, UriKind.Absolute, out var address)
            ? address.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).LastOrDefault()
            : null;
        return named == target
            ? null
            : $"MT-Fault-InputAddress '{inputAddress}' names {(named is null ? "no queue" : $"queue '{named}'")}, not '{target}', the queue this message was captured for; replays go to '{target}'.";
    }

    /// <summary>First frame outside the runtime and the libraries: where our code failed.</summary>
    public static string? TopApplicationFrame(string? stackTrace) =>
        stackTrace?.Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.StartsWith("at ", StringComparison.Ordinal))
            .Select(line => FileAndLine().Replace(line, ""))
            .FirstOrDefault(line => !LibraryFrame().IsMatch(line));

    public static string FingerprintOf(string exceptionType, string? messageType, string? frame)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{exceptionType}|{messageType}|{frame}"));
        return Convert.ToHexStringLower(hash)[..32];
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    /// <summary>
    /// The <c>messageType</c> list of a MassTransit JSON envelope (<c>urn:message:…</c>, most specific first), joined as
    /// the MT-MessageType header joins it; null for a body that is not such an envelope (invalid JSON, binary, raw JSON).
    /// </summary>
    private static string? EnvelopeMessageType(byte[] body)
    {
        try
        {
            using var envelope = JsonDocument.Parse(body);
            if (envelope.RootElement.ValueKind != JsonValueKind.Object
                || !envelope.RootElement.TryGetProperty("messageType", out var types)
                || types.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var urns = types.EnumerateArray()
                .Where(x => x.ValueKind == JsonValueKind.String && x.GetString()!.StartsWith("urn:message:", StringComparison.Ordinal))
                .Select(x => x.GetString()!)
                .ToList();
            return urns.Count == 0 ? null : string.Join(';', urns);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A message without a usable MessageId still gets one stable id, so capturing it twice is one record.</summary>
    private static Guid DeterministicId(string queue, byte[] body)
    {
        var hash = SHA256.HashData([.. Encoding.UTF8.GetBytes(queue), .. body]);
        return new Guid(hash.AsSpan(0, 16));
    }

    /// <summary>AMQP header values as JSON-friendly ones: strings arrive as byte arrays.</summary>
    private static object? Plain(object? value) => value switch
    {
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        AmqpTimestamp timestamp => DateTimeOffset.FromUnixTimeSeconds(timestamp.UnixTime),
        IEnumerable<KeyValuePair<string, object?>> table => table.ToDictionary(x => x.Key, x => Plain(x.Value)),
        IList<object?> list => list.Select(Plain).ToList(),
        _ => value,
    };

    [GeneratedRegex(@" in .*:line \d+$")]
    private static partial Regex FileAndLine();

    [GeneratedRegex(@"^at (System|Microsoft|MassTransit|Npgsql|RabbitMQ|Polly)\.")]
    private static partial Regex LibraryFrame();
}
