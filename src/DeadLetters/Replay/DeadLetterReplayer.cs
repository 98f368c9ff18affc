using System.Text.Json;
using EventBackbone.DeadLetters.Capture;
using EventBackbone.Messaging.Transport;
using Microsoft.Extensions.Logging;
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

    /// <summary>
    /// Not sent: no connection to the broker could be made. Unlike <see cref="Failed"/> it says nothing about the
    /// message, and every message after it would fail the same way, so a replay job stops here.
    /// </summary>
    BrokerUnreachable,
}

/// <summary>
/// Sends dead letters back to the queue that failed them — never to the message-type exchange, which would fan out to
/// every subscriber again. MessageId and CorrelationId are kept (so the consumer's inbox still recognises a message it
/// did process); <c>MT-Fault-*</c>, <c>MT-Reason</c> and <c>MT-Redelivery-Count</c> are removed (a kept redelivery count
/// would make the message skip its redelivery policy). Published persistent, mandatory and with publisher confirms; the
/// record is marked replayed only after the broker confirmed. The replay ledger's unique (message, failure count) key
/// makes a second replay of the same failure a no-op, whoever asks and however often.
/// <para>
/// A crash between the broker's confirm and the ledger's commit would leave a claim whose fate is unknown. Each replay
/// is therefore routed (by a <c>BCC</c> header, in the same publish) to the target queue <em>and</em> to a journal
/// queue of ours: a claim left pending by a dead process is confirmed if its message is in the journal and released
/// for another replay if it is not — so a resumed group replay neither resends a confirmed message nor loses one.
/// </para>
/// </summary>
public sealed partial class DeadLetterReplayer(
    DeadLetterSettings settings, NpgsqlDataSource dataSource, DeadLetterMetrics metrics, TimeProvider clock, ILogger<DeadLetterReplayer> logger)
    : IAsyncDisposable
{
    /// <summary>Receives a copy of every replay; drained into the ledger (see <see cref="ResolveInDoubtAsync"/>).</summary>
    public const string JournalQueue = "dead-letters-replay-journal";

    /// <summary>
    /// The advisory-lock class of replayer liveness locks (two-key locks do not overlap one-key ones): a pending claim
    /// whose <c>claimed_by</c> lock (this class, that number) is free belongs to a dead replayer.
    /// </summary>
    public const int LivenessLockClass = 0x444C;

    /// <summary>A publish that hangs must not hold a claim for ever: it fails, and the claim is released.</summary>
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(15);

    private static readonly string[] StrippedHeaderPrefixes = ["MT-Fault-", "MT-Reason", "MT-Redelivery-Count"];

    private readonly int _instance = Random.Shared.Next(1, int.MaxValue);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _livenessGate = new(1, 1);
    private readonly HashSet<string> _existingTargets = new(StringComparer.Ordinal);
    private NpgsqlConnection? _liveness;
    private IConnection? _connection;
    private IChannel? _channel;

    public Task<ReplayOutcome> ReplayAsync(Guid messageId, string actor, string? reason, CancellationToken cancellationToken) =>
        ReplayAsync(messageId, actor, reason, edited: null, jobId: null, cancellationToken);

    /// <param name="edited">
    /// For edit-and-replay: the corrected message. It goes out as a new message (new MessageId, <c>MT-OriginalMessageId</c>
    /// naming this one) in the stored envelope, and counts as this failure's replay in the ledger.
    /// </param>
    /// <param name="jobId">The replay job asking, so that resuming it counts what it sent before a crash as its own.</param>
    public async Task<ReplayOutcome> ReplayAsync(Guid messageId, string actor, string? reason, JsonElement? edited, Guid? jobId, CancellationToken cancellationToken)
    {
        await StayAliveAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var (letter, claimed) = await LoadAndClaimAsync(connection, messageId, actor, jobId, cancellationToken);
        if (letter is null)
        {
            return ReplayOutcome.NotFound;
        }

        if (!claimed)
        {
            return jobId is not null && await ConfirmedByJobAsync(connection, letter, jobId.Value, cancellationToken)
                ? ReplayOutcome.Replayed
                : ReplayOutcome.AlreadyReplayed;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(PublishTimeout);
            await PublishAsync(edited is { } message ? Edited(letter, message) : letter, timeout.Token);
        }
        catch (Exception failure) when (failure is PublishException or AlreadyClosedException or OperationInterruptedException or OperationCanceledException
            or BrokerUnreachableException)
        {
            // Not confirmed, so not sent as far as anyone can tell: free the claim so it can be replayed again. (A claim
            // left pending by this live process is never released by in-doubt resolution: the message would read as
            // "already replayed" for ever.)
            await ExecuteAsync(connection, "DELETE FROM replay_ledger WHERE message_id = $1 AND failure_count = $2 AND status = 'pending'",
                CancellationToken.None, messageId, letter.FailureCount);
            await AuditAsync(connection, actor, "replay-failed", messageId, failure.Message, CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            return failure is BrokerUnreachableException ? ReplayOutcome.BrokerUnreachable : ReplayOutcome.Failed;
        }

        // One statement (one commit), so the ledger, the record's status, the job's progress and the audit cannot
        // disagree after a crash.
        await ExecuteAsync(connection, """
            WITH confirmed AS (
                UPDATE replay_ledger SET status = 'confirmed', confirmed_at = $3 WHERE message_id = $1 AND failure_count = $2),
            replayed AS (
                UPDATE dead_letters SET status = 'replayed' WHERE message_id = $1 AND failure_count = $2),
            progress AS (
                UPDATE replay_job_items SET outcome = 'replayed' WHERE job_id = $7 AND message_id = $1)
            INSERT INTO dead_letter_audit (at, actor, action, message_id, detail) VALUES ($3, $4, $5, $1, $6)
            """,
            CancellationToken.None, messageId, letter.FailureCount, clock.GetUtcNow(), actor, edited is null ? "replay" : "edit-and-replay",
            (object?)reason ?? DBNull.Value, (object?)jobId ?? DBNull.Value);
        metrics.Replayed(letter.TargetQueue);
        return ReplayOutcome.Replayed;
    }

    /// <summary>
    /// Settles the claims that dead replayers left pending: the journal tells which of their messages reached the
    /// broker (those are confirmed); the rest never did and are released. Also keeps the journal short.
    /// </summary>
    public async Task ResolveInDoubtAsync(CancellationToken cancellationToken)
    {
        await StayAliveAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Which owners are dead is decided before the journal is read: a dead owner cannot add to it afterwards.
        var deadOwners = new List<int>();
        foreach (var owner in await PendingOwnersAsync(connection, cancellationToken))
        {
            if (await ScalarAsync<bool>(connection, "SELECT pg_try_advisory_lock($1, $2)", cancellationToken, LivenessLockClass, owner))
            {
                await ScalarAsync<bool>(connection, "SELECT pg_advisory_unlock($1, $2)", cancellationToken, LivenessLockClass, owner);
                deadOwners.Add(owner);
            }
        }

        var journaled = await DrainJournalAsync(connection, cancellationToken);
        var released = deadOwners.Count == 0
            ? 0
            : await ExecuteAsync(connection, "DELETE FROM replay_ledger WHERE status = 'pending' AND claimed_by = ANY($1)",
                cancellationToken, deadOwners.ToArray());
        if (deadOwners.Count > 0)
        {
            LogInDoubtResolved(logger, deadOwners.Count, journaled, released);
        }
    }

    /// <summary>
    /// Reads the journal in batches (one statement and one multiple-ack per batch: every replay leaves a copy here, so
    /// draining must cost far less than replaying). A copy is acknowledged only after its batch committed.
    /// </summary>
    private async Task<int> DrainJournalAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const int Batch = 500;
        var confirmed = 0;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var channel = await ChannelAsync(cancellationToken);
            while (true)
            {
                var replayed = new List<Guid>(Batch);
                ulong lastTag = 0;
                var read = 0;
                while (read < Batch && await channel.BasicGetAsync(JournalQueue, autoAck: false, cancellationToken) is { } copy)
                {
                    read++;
                    lastTag = copy.DeliveryTag;
                    if (ReplayedId(copy.BasicProperties) is { } id)
                    {
                        replayed.Add(id);
                    }
                    else
                    {
                        // Not a copy of ours (anyone may publish to the vhost): acknowledged with its batch and skipped.
                        // Unread, it halted every drain, and with it every replay job.
                        LogForeignJournalCopy(logger, copy.BasicProperties.MessageId);
                    }
                }

                if (read == 0)
                {
                    return confirmed;
                }

                confirmed += await ExecuteAsync(connection, """
                    WITH confirmed AS (
                        UPDATE replay_ledger SET status = 'confirmed', confirmed_at = $2 WHERE message_id = ANY($1) AND status = 'pending'
                        RETURNING message_id, failure_count, requested_by, job_id),
                    replayed AS (
                        UPDATE dead_letters d SET status = 'replayed' FROM confirmed c WHERE d.message_id = c.message_id AND d.failure_count = c.failure_count),
                    progress AS (
                        UPDATE replay_job_items i SET outcome = 'replayed' FROM confirmed c WHERE i.job_id = c.job_id AND i.message_id = c.message_id)
                    INSERT INTO dead_letter_audit (at, actor, action, message_id, detail)
                    SELECT $2, requested_by, 'replay', message_id, 'confirmed from the replay journal after an interruption' FROM confirmed
                    """, cancellationToken, replayed.ToArray(), clock.GetUtcNow());
                await channel.BasicAckAsync(lastTag, multiple: true, cancellationToken);
            }
        }
        catch
        {
            _channel = null;
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The dead letter a journal copy stands for: its original (edit-and-replay), else itself; null when neither is a GUID.</summary>
    private static Guid? ReplayedId(IReadOnlyBasicProperties copy) =>
        copy.Headers?.TryGetValue("MT-OriginalMessageId", out var original) == true && original is byte[] bytes
            && Guid.TryParse(System.Text.Encoding.UTF8.GetString(bytes), out var originalId)
            ? originalId
            : Guid.TryParse(copy.MessageId, out var id) ? id : null;

    private static async Task<List<int>> PendingOwnersAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT DISTINCT claimed_by FROM replay_ledger WHERE status = 'pending'", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var owners = new List<int>();
        while (await reader.ReadAsync(cancellationToken))
        {
            owners.Add(reader.GetInt32(0));
        }

        return owners;
    }

    /// <summary>Holds this process's liveness lock on a connection of its own; taken again if that connection was lost.</summary>
    private async Task StayAliveAsync(CancellationToken cancellationToken)
    {
        if (_liveness is { State: System.Data.ConnectionState.Open })
        {
            return;
        }

        await _livenessGate.WaitAsync(cancellationToken);
        try
        {
            if (_liveness is { State: System.Data.ConnectionState.Open })
            {
                return;
            }

            if (_liveness is not null)
            {
                await _liveness.DisposeAsync();
            }

            var liveness = await dataSource.OpenConnectionAsync(cancellationToken);
            await ScalarAsync<object>(liveness, "SELECT pg_advisory_lock($1, $2)", cancellationToken, LivenessLockClass, _instance);
            _liveness = liveness;
        }
        finally
        {
            _livenessGate.Release();
        }
    }

    private static async Task<bool> ConfirmedByJobAsync(NpgsqlConnection connection, StoredLetter letter, Guid jobId, CancellationToken cancellationToken) =>
        await ScalarAsync<long>(connection,
            "SELECT count(*) FROM replay_ledger WHERE message_id = $1 AND failure_count = $2 AND job_id = $3 AND status = 'confirmed'",
            cancellationToken, letter.MessageId, letter.FailureCount, jobId) == 1;

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
        // Routed by the broker, in this one publish, to the journal as well; the broker strips BCC before delivery.
        properties.Headers["BCC"] = new List<object> { JournalQueue };
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var channel = await ChannelAsync(cancellationToken);
            if (!_existingTargets.Contains(letter.TargetQueue))
            {
                // Mandatory cannot tell a missing target once the journal takes the copy: ask first (a missing queue
                // closes the channel with 404, which fails this replay).
                await channel.QueueDeclarePassiveAsync(letter.TargetQueue, cancellationToken);
                _existingTargets.Add(letter.TargetQueue);
            }

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
        _existingTargets.Clear();
        await DeclareJournalAsync(_channel, settings.RabbitMq, cancellationToken);
        return _channel;
    }

    /// <summary>
    /// The journal accounts for replays in doubt: with <c>QuorumQueues</c> it is replicated like the queues it accounts
    /// for, or a node's loss would take the copies that tell a confirmed replay from a lost one.
    /// </summary>
    internal static Task DeclareJournalAsync(IChannel channel, RabbitMqSettings rabbit, CancellationToken cancellationToken) =>
        channel.QueueDeclareAsync(
            JournalQueue,
            durable: true,
            exclusive: false,
            autoDelete: false,
            arguments: rabbit.QuorumQueues ? new Dictionary<string, object?> { ["x-queue-type"] = "quorum" } : null,
            cancellationToken: cancellationToken);

    private static object? HeaderValue(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.TryGetInt64(out var whole) ? whole : value.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        _ => value.GetRawText(),
    };

    /// <summary>Reads the letter and claims its current failure in the ledger, in one round trip.</summary>
    private async Task<(StoredLetter? Letter, bool Claimed)> LoadAndClaimAsync(
        NpgsqlConnection connection, Guid messageId, string actor, Guid? jobId, CancellationToken cancellationToken)
    {
        await using var load = Command(connection, """
            WITH letter AS (
                SELECT message_id, correlation_id, source_queue, content_type, body, headers::text AS headers, failure_count
                FROM dead_letters WHERE message_id = $1),
            claim AS (
                INSERT INTO replay_ledger (message_id, failure_count, status, requested_by, requested_at, claimed_by, job_id)
                SELECT message_id, failure_count, 'pending', $2, $3, $4, $5 FROM letter
                ON CONFLICT (message_id, failure_count) DO NOTHING RETURNING message_id)
            SELECT correlation_id, source_queue, content_type, body, headers, failure_count, EXISTS (SELECT 1 FROM claim) FROM letter
            """, [messageId, actor, clock.GetUtcNow(), _instance, (object?)jobId ?? DBNull.Value]);
        await using var reader = await load.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? (new StoredLetter(
                messageId,
                reader.IsDBNull(0) ? null : reader.GetGuid(0),
                // From the captured queue, not target_queue: rows stored before the capture stopped following
                // MT-Fault-InputAddress hold a forged target there.
                CapturedMessage.TargetOf(reader.GetString(1)),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetFieldValue<byte[]>(3),
                reader.GetString(4),
                reader.GetInt32(5)), reader.GetBoolean(6))
            : (null, false);
    }

    private static async Task<int> ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = Command(connection, sql, values);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] values)
    {
        await using var command = Command(connection, sql, values);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, object[] values)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
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

        if (_liveness is not null)
        {
            await _liveness.DisposeAsync();
        }

        _gate.Dispose();
        _livenessGate.Dispose();
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

    [LoggerMessage(LogLevel.Warning, "Skipped a message in the replay journal that names no dead letter (message id {MessageId})")]
    private static partial void LogForeignJournalCopy(ILogger logger, string? messageId);

    [LoggerMessage(LogLevel.Warning, "Resolved replays left in doubt by {Owners} stopped replayer(s): {Confirmed} confirmed from the journal, {Released} released for replay")]
    private static partial void LogInDoubtResolved(ILogger logger, int owners, int confirmed, int released);

    private sealed record StoredLetter(Guid MessageId, Guid? CorrelationId, string TargetQueue, string? ContentType, byte[] Body, string Headers, int FailureCount)
    {
        public Guid? OriginalMessageId { get; init; }
    }
}
