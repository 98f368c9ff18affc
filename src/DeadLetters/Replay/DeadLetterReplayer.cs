using System.Text.Json;
using EventBackbone.DeadLetters.Capture;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace EventBackbone.DeadLetters.Replay;

public enum ReplayOutcome
{
    Replayed,
    AlreadyReplayed,
    NotFound,
    Failed,
}

/// <summary>
/// Sends dead letters back to the queue that failed them — never to the message-type exchange, which would fan out to
/// every subscriber again. MessageId and CorrelationId are kept (so the consumer's inbox still recognises a message it
/// did process); <c>MT-Fault-*</c>, <c>MT-Reason</c> and <c>MT-Redelivery-Count</c> are removed (a kept redelivery count
/// would make the message skip its redelivery policy). Published persistent, mandatory and with publisher confirms; the
/// record is marked replayed only after the broker confirmed. The replay ledger's unique (message, failure count) key
/// makes a second replay of the same failure a no-op, whoever asks and however often.
/// </summary>
public sealed class DeadLetterReplayer(DeadLetterSettings settings, NpgsqlDataSource dataSource, TimeProvider clock) : IAsyncDisposable
{
    private static readonly string[] StrippedHeaderPrefixes = ["MT-Fault-", "MT-Reason", "MT-Redelivery-Count"];

    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _channel;

    public Task<ReplayOutcome> ReplayAsync(Guid messageId, string actor, string? reason, CancellationToken cancellationToken) =>
        ReplayAsync(messageId, actor, reason, edited: null, cancellationToken);

    /// <param name="edited">
    /// For edit-and-replay: the corrected message. It goes out as a new message (new MessageId, <c>MT-OriginalMessageId</c>
    /// naming this one) in the stored envelope, and counts as this failure's replay in the ledger.
    /// </param>
    public async Task<ReplayOutcome> ReplayAsync(Guid messageId, string actor, string? reason, JsonElement? edited, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var letter = await LoadAsync(connection, messageId, cancellationToken);
        if (letter is null)
        {
            return ReplayOutcome.NotFound;
        }

        await using (var claim = new NpgsqlCommand("""
            INSERT INTO replay_ledger (message_id, failure_count, status, requested_by, requested_at)
            VALUES ($1, $2, 'pending', $3, $4) ON CONFLICT (message_id, failure_count) DO NOTHING
            """, connection))
        {
            claim.Parameters.Add(new NpgsqlParameter { Value = messageId });
            claim.Parameters.Add(new NpgsqlParameter { Value = letter.FailureCount });
            claim.Parameters.Add(new NpgsqlParameter { Value = actor });
            claim.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
            if (await claim.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return ReplayOutcome.AlreadyReplayed;
            }
        }

        try
        {
            await PublishAsync(edited is { } message ? Edited(letter, message) : letter, cancellationToken);
        }
        catch (Exception failure) when (failure is PublishException or AlreadyClosedException or OperationInterruptedException)
        {
            // Not confirmed, so not sent as far as anyone can tell: free the claim so it can be replayed again.
            await ExecuteAsync(connection, "DELETE FROM replay_ledger WHERE message_id = $1 AND failure_count = $2 AND status = 'pending'",
                cancellationToken, messageId, letter.FailureCount);
            await AuditAsync(connection, actor, "replay-failed", messageId, failure.Message, cancellationToken);
            return ReplayOutcome.Failed;
        }

        await ExecuteAsync(connection, "UPDATE replay_ledger SET status = 'confirmed', confirmed_at = $3 WHERE message_id = $1 AND failure_count = $2",
            cancellationToken, messageId, letter.FailureCount, clock.GetUtcNow());
        await ExecuteAsync(connection, "UPDATE dead_letters SET status = 'replayed' WHERE message_id = $1", cancellationToken, messageId);
        await AuditAsync(connection, actor, edited is null ? "replay" : "edit-and-replay", messageId, reason, cancellationToken);
        return ReplayOutcome.Replayed;
    }

    public static bool KeepsHeader(string name) => !StrippedHeaderPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal));

    private async Task PublishAsync(StoredLetter letter, CancellationToken cancellationToken)
    {
        var headers = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(letter.Headers) ?? [];
        if (letter.OriginalMessageId is { } original)
        {
            headers["MT-OriginalMessageId"] = JsonSerializer.SerializeToElement(original.ToString());
        }

        var properties = new BasicProperties
        {
            MessageId = letter.MessageId.ToString(),
            CorrelationId = letter.CorrelationId?.ToString(),
            ContentType = letter.ContentType,
            Persistent = true,
            Headers = headers.Where(x => KeepsHeader(x.Key)).ToDictionary(x => x.Key, x => HeaderValue(x.Value)),
        };
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var channel = await ChannelAsync(cancellationToken);
            // Default exchange, routing key = queue name: straight to that one queue.
            await channel.BasicPublishAsync("", letter.TargetQueue, mandatory: true, properties, letter.Body, cancellationToken);
        }
        catch
        {
            // A failed channel is not reused.
            _channel = null;
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true })
        {
            return _channel;
        }

        if (_connection is not { IsOpen: true })
        {
            _connection = await settings.ConnectAsync("replay", cancellationToken);
        }

        // Tracking on: BasicPublishAsync completes only when the broker confirmed (or throws on a nack or a return).
        _channel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        return _channel;
    }

    private static object? HeaderValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.TryGetInt64(out var whole) ? whole : value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => value.GetRawText(),
    };

    private static async Task<StoredLetter?> LoadAsync(NpgsqlConnection connection, Guid messageId, CancellationToken cancellationToken)
    {
        await using var load = new NpgsqlCommand(
            "SELECT correlation_id, target_queue, content_type, body, headers::text, failure_count FROM dead_letters WHERE message_id = $1", connection);
        load.Parameters.Add(new NpgsqlParameter { Value = messageId });
        await using var reader = await load.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new StoredLetter(
                messageId,
                reader.IsDBNull(0) ? null : reader.GetGuid(0),
                reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetFieldValue<byte[]>(3),
                reader.GetString(4),
                reader.GetInt32(5))
            : null;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private Task AuditAsync(NpgsqlConnection connection, string actor, string action, Guid messageId, string? detail, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, "INSERT INTO dead_letter_audit (at, actor, action, message_id, detail) VALUES ($1, $2, $3, $4, $5)",
            cancellationToken, clock.GetUtcNow(), actor, action, messageId, (object?)detail ?? DBNull.Value);

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
        {
            await _channel.DisposeAsync();
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        _gate.Dispose();
    }

    /// <summary>The stored envelope with the edited message and a new message id.</summary>
    private static StoredLetter Edited(StoredLetter letter, JsonElement message)
    {
        var envelope = System.Text.Json.Nodes.JsonNode.Parse(letter.Body)!.AsObject();
        var newId = Guid.NewGuid();
        envelope["messageId"] = newId.ToString();
        envelope["message"] = System.Text.Json.Nodes.JsonNode.Parse(message.GetRawText());
        // Consumers read the envelope's headers, not the transport's: the link to the original goes in both.
        if (envelope["headers"] is not System.Text.Json.Nodes.JsonObject headers)
        {
            headers = [];
            envelope["headers"] = headers;
        }

        headers["MT-OriginalMessageId"] = letter.MessageId.ToString();
        return letter with { MessageId = newId, OriginalMessageId = letter.MessageId, Body = System.Text.Encoding.UTF8.GetBytes(envelope.ToJsonString()) };
    }

    private sealed record StoredLetter(Guid MessageId, Guid? CorrelationId, string TargetQueue, string? ContentType, byte[] Body, string Headers, int FailureCount)
    {
        public Guid? OriginalMessageId { get; init; }
    }
}
