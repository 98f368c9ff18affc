using System.Threading.Channels;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Sends committed bus-outbox groups to the broker and deletes them. Groups this process committed are handed over in
/// memory right after the commit (<see cref="OutboxHandoff"/>) and sent without reading them back; everything else —
/// groups of other processes, scheduled ones coming due, groups whose hand-off lease ran out after a crash — is
/// leased with <c>FOR UPDATE SKIP LOCKED</c> in one short statement. Either way a group is sent with no transaction
/// open (publisher confirms per message), then deleted in one statement per batch. Safe with any number of instances.
/// A group that keeps failing is parked and blocks nothing.
/// </summary>
internal sealed class OutboxDeliveryService<TDbContext>(
    ServiceDataSource<TDbContext> database,
    IBusControl bus,
    OutboxSignal signal,
    OutboxHandoff handoff,
    DurableMessagingSettings settings,
    MessagingMetrics metrics,
    ILogger<OutboxDeliveryService<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
    private const int HandoffCapacity = 10_000;
    private static readonly TimeSpan OutageWarningInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxOutageBackoff = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LeaseSafetyMargin = TimeSpan.FromSeconds(1);

    private readonly Guid _instanceLock = NewId.NextGuid();
    private DateTime _lastOutageWarning = DateTime.MinValue;

    private ChannelReader<HandedOffGroup>? _handedOff;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the host runs anything else: ExecuteAsync starts on the thread pool, and a group committed before the
        // hand-off is open is written unleased and waits for a claim.
        _handedOff = handoff.Open(typeof(TDbContext), _instanceLock, settings.HandoffLease, HandoffCapacity);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var handedOff = _handedOff ?? throw new InvalidOperationException("StartAsync opens the hand-off first.");
        try
        {
            var listener = ListenAsync(stoppingToken);
            // Several workers per path: while one waits for confirms, another claims or sends and another records, so
            // one batch's round trips do not cap the whole service.
            var claiming = Enumerable.Range(0, settings.DeliveryConcurrency)
                .Select(worker => LoopAsync(ClaimAndDeliverAsync(polls: worker == 0), stoppingToken));
            var handing = Enumerable.Range(0, settings.DeliveryConcurrency)
                .Select(_ => LoopAsync(token => DeliverHandedOffAsync(handedOff, token), stoppingToken));
            await Task.WhenAll(claiming.Concat(handing));
            await listener;
        }
        finally
        {
            // Groups committed from now on are written unleased, for whichever instance claims them.
            handoff.Close(typeof(TDbContext));
            await ReleaseLeasesAsync();
        }
    }

    /// <summary>
    /// On a graceful stop, after the last send: what this instance still holds (handed off but not yet sent, or claimed
    /// and not recorded) is released, so another instance sends it now instead of after its lease.
    /// </summary>
    private async Task ReleaseLeasesAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await using var command = database.DataSource.CreateCommand(
                $"UPDATE {OutboxModel.OutboxStateTable} SET lock_id = NULL, locked_until = NULL WHERE lock_id = $1");
            command.Parameters.AddWithValue(_instanceLock);
            await command.ExecuteNonQueryAsync(timeout.Token);
        }
        catch (Exception failure) when (DatabaseFailures.IsUnavailable(failure) || failure is OperationCanceledException)
        {
            logger.LogWarning("Outbox leases of this instance not released on stop ({Reason}); they run out by themselves", failure.Message);
        }
    }

    private Func<CancellationToken, Task> ClaimAndDeliverAsync(bool polls) => async stoppingToken =>
    {
        await bus.WaitForHealthStatus(BusHealthStatus.Healthy, stoppingToken);
        var claimed = await DeliverBatchAsync(stoppingToken);
        if (claimed > 0)
        {
            if (claimed >= Math.Max(2, settings.DeliveryBatchSize / 4))
            {
                // A backlog: wake an idle peer to claim the next batch alongside this worker. Not for a trickle,
                // where peers would only run empty claims.
                signal.SetLocal();
            }

            return;
        }

        // One worker polls (and refreshes the backlog gauges); the others wait for a signal.
        var wait = polls ? await NextWaitAsync(stoppingToken) : Timeout.InfiniteTimeSpan;
        await signal.WaitAsync(wait, stoppingToken);
    };

    /// <summary>Sends what this process committed, as handed over after commit: up to a batch of groups at a time.</summary>
    private async Task DeliverHandedOffAsync(ChannelReader<HandedOffGroup> handedOff, CancellationToken stoppingToken)
    {
        if (!await handedOff.WaitToReadAsync(stoppingToken))
        {
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }

        await bus.WaitForHealthStatus(BusHealthStatus.Healthy, stoppingToken);
        var batch = new List<HandedOffGroup>();
        var now = DateTime.UtcNow;
        while (batch.Count < settings.DeliveryBatchSize && handedOff.TryRead(out var group))
        {
            // Half its lease gone (the broker was down, or the backlog long): a claim may take it soon, so it is left
            // to that claim rather than risk two senders.
            if (group.LockedUntil - now > settings.HandoffLease / 2)
            {
                batch.Add(group);
            }
        }

        if (batch.Count > 0)
        {
            var sendBy = batch.Min(x => x.LockedUntil) - LeaseSafetyMargin;
            var outcomes = await Task.WhenAll(batch.Select(group => SendGroupAsync(group.OutboxId, group.Messages, sendBy, stoppingToken)));
            await RecordOutcomesAsync(outcomes, stoppingToken);
        }
    }

    /// <summary>Runs one step of a delivery loop after another; a failure backs off and never ends the loop.</summary>
    private async Task LoopAsync(Func<CancellationToken, Task> step, CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await step(stoppingToken);
                backoff = TimeSpan.Zero;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception outage) when (DatabaseFailures.IsUnavailable(outage))
            {
                // Back off instead of spinning, and warn once per interval instead of once per attempt: a database
                // restart must not become a log storm.
                backoff = NextBackoff(backoff);
                if (DateTime.UtcNow - _lastOutageWarning > OutageWarningInterval)
                {
                    _lastOutageWarning = DateTime.UtcNow;
                    logger.LogWarning("Outbox delivery paused: the database is unreachable ({Reason}); retrying with backoff up to {Backoff}",
                        outage.Message, MaxOutageBackoff);
                }

                await Task.Delay(backoff, stoppingToken);
            }
            catch (Exception unexpected)
            {
                // A delivery loop must never die: a dead one leaves every committed message undelivered while the host
                // looks healthy. Log it, back off like an outage, and try again.
                logger.LogError(unexpected, "Outbox delivery failed unexpectedly; retrying");
                backoff = NextBackoff(backoff);
                await Task.Delay(backoff, stoppingToken);
            }
        }
    }

    private static TimeSpan NextBackoff(TimeSpan current) =>
        current == TimeSpan.Zero ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromTicks(Math.Min(current.Ticks * 2, MaxOutageBackoff.Ticks));

    /// <summary>Leases up to a batch of due groups, sends them, and records the outcome. Returns the groups leased.</summary>
    public async Task<int> DeliverBatchAsync(CancellationToken cancellationToken)
    {
        var (claimed, messages) = await ClaimAsync(cancellationToken);
        if (claimed.Count == 0)
        {
            return 0;
        }

        var groups = messages.GroupBy(x => x.OutboxId!.Value).ToDictionary(x => x.Key, x => x.ToList());
        // Groups are independent, so they are sent concurrently (pipelined confirms); within a group, in order.
        var sendBy = DateTime.UtcNow + SendTimeout;
        var outcomes = await Task.WhenAll(claimed.Select(id =>
            SendGroupAsync(id, groups.TryGetValue(id, out var group) ? group : [], sendBy, cancellationToken)));
        await RecordOutcomesAsync(outcomes, cancellationToken);
        return claimed.Count;
    }

    /// <summary>Leases due groups and reads their messages in one round trip (one short autocommit statement).</summary>
    private async Task<(List<Guid> Claimed, List<OutboxMessage> Messages)> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            WITH claimed AS (
                UPDATE {OutboxModel.OutboxStateTable} SET lock_id = $1, locked_until = now() + $2
                WHERE outbox_id IN (
                    SELECT outbox_id FROM {OutboxModel.OutboxStateTable}
                    WHERE parked_at IS NULL AND not_before <= now() AND (locked_until IS NULL OR locked_until < now())
                    ORDER BY not_before
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED)
                RETURNING outbox_id)
            SELECT c.outbox_id, m.sequence_number, m.message_id, m.content_type, m.message_type, m.body, m.headers, m.properties,
                   m.conversation_id, m.correlation_id, m.initiator_id, m.request_id, m.source_address, m.destination_address,
                   m.response_address, m.fault_address, m.sent_time, m.expiration_time
            FROM claimed c LEFT JOIN {OutboxModel.OutboxMessagesTable} m ON m.outbox_id = c.outbox_id
            ORDER BY m.sequence_number
            """);
        command.Parameters.AddWithValue(_instanceLock);
        command.Parameters.AddWithValue(settings.DeliveryLease);
        command.Parameters.AddWithValue(settings.DeliveryBatchSize);
        var claimed = new List<Guid>();
        var messages = new List<OutboxMessage>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var outboxId = reader.GetGuid(0);
            if (!claimed.Contains(outboxId))
            {
                claimed.Add(outboxId);
            }

            if (reader.IsDBNull(1))
            {
                continue; // a group whose messages were cancelled: completing it removes it
            }

            messages.Add(new OutboxMessage
            {
                OutboxId = outboxId,
                SequenceNumber = reader.GetInt64(1),
                MessageId = reader.GetGuid(2),
                ContentType = reader.GetString(3),
                MessageType = reader.GetString(4),
                Body = reader.GetString(5),
                Headers = reader.IsDBNull(6) ? null : reader.GetString(6),
                Properties = reader.IsDBNull(7) ? null : reader.GetString(7),
                ConversationId = reader.IsDBNull(8) ? null : reader.GetGuid(8),
                CorrelationId = reader.IsDBNull(9) ? null : reader.GetGuid(9),
                InitiatorId = reader.IsDBNull(10) ? null : reader.GetGuid(10),
                RequestId = reader.IsDBNull(11) ? null : reader.GetGuid(11),
                SourceAddress = UriOrNull(reader, 12),
                DestinationAddress = UriOrNull(reader, 13),
                ResponseAddress = UriOrNull(reader, 14),
                FaultAddress = UriOrNull(reader, 15),
                SentTime = reader.GetDateTime(16),
                ExpirationTime = reader.IsDBNull(17) ? null : reader.GetDateTime(17),
            });
        }

        return (claimed, messages);
    }

    private static Uri? UriOrNull(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : new Uri(reader.GetString(ordinal), UriKind.RelativeOrAbsolute);

    private async Task<GroupOutcome> SendGroupAsync(Guid outboxId, IReadOnlyList<OutboxMessage> messages, DateTime sendBy, CancellationToken cancellationToken)
    {
        var sent = new List<long>(messages.Count);
        // One deadline for the whole group: a send must not outlive the lease that makes it the only one.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var left = sendBy - DateTime.UtcNow;
        timeout.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        foreach (var message in messages)
        {
            try
            {
                if (message.ExpirationTime is { } expires && expires < DateTime.UtcNow)
                {
                    logger.LogWarning("Outbox message {MessageId} expired at {Expiration} before delivery; dropped", message.MessageId, expires);
                }
                else
                {
                    await StoredMessageSender.SendAsync(bus, message, timeout.Token);
                    metrics.Delivered.Add(1);
                }

                sent.Add(message.SequenceNumber);
            }
            catch (Exception failure) when (failure is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                metrics.DeliveryFailures.Add(1);
                return new GroupOutcome(outboxId, sent, $"{failure.GetType().Name}: {failure.Message}");
            }
        }

        return new GroupOutcome(outboxId, sent, null);
    }

    private async Task RecordOutcomesAsync(GroupOutcome[] outcomes, CancellationToken cancellationToken)
    {
        var sent = outcomes.SelectMany(x => x.Sent).ToArray();
        var completed = outcomes.Where(x => x.Error is null).Select(x => x.OutboxId).ToArray();
        var failed = outcomes.Where(x => x.Error is not null).ToArray();

        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = failed.Length > 0 ? await connection.BeginTransactionAsync(cancellationToken) : null;
        await using var batch = new NpgsqlBatch(connection, transaction);
        // One statement deletes the sent messages and the completed groups: one round trip, one commit per batch.
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            WITH sent AS (DELETE FROM {OutboxModel.OutboxMessagesTable} WHERE sequence_number = ANY($1))
            DELETE FROM {OutboxModel.OutboxStateTable} WHERE outbox_id = ANY($2) AND lock_id = $3
            """)
        {
            Parameters = { new() { Value = sent }, new() { Value = completed }, new() { Value = _instanceLock } },
        });
        foreach (var failure in failed)
        {
            // Exponential backoff between attempts; parked after the last one so it never blocks the others.
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
                UPDATE {OutboxModel.OutboxStateTable}
                SET attempts = attempts + 1, last_error = left($2, 2000), lock_id = NULL,
                    locked_until = now() + make_interval(secs => least(power(2, attempts), 60)),
                    parked_at = CASE WHEN attempts + 1 >= $3 THEN now() END
                WHERE outbox_id = $1 AND lock_id = $4
                RETURNING parked_at IS NOT NULL
                """)
            {
                Parameters = { new() { Value = failure.OutboxId }, new() { Value = failure.Error! }, new() { Value = settings.MaxDeliveryAttempts }, new() { Value = _instanceLock } },
            });
        }

        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            foreach (var failure in failed)
            {
                await reader.NextResultAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken) && reader.GetBoolean(0))
                {
                    metrics.Parked.Add(1);
                    logger.LogError("Outbox group {OutboxId} parked after {Attempts} failed deliveries: {Error}",
                        failure.OutboxId, settings.MaxDeliveryAttempts, failure.Error);
                }
                else
                {
                    logger.LogWarning("Outbox group {OutboxId} could not be delivered, will retry: {Error}", failure.OutboxId, failure.Error);
                }
            }
        }

        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>Until the next scheduled group is due, at most one poll interval; refreshes the backlog gauges.</summary>
    private async Task<TimeSpan> NextWaitAsync(CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            SELECT count(*) FILTER (WHERE not_before <= now()),
                   coalesce(extract(epoch FROM now() - min(not_before) FILTER (WHERE not_before <= now())), 0)::float8,
                   extract(epoch FROM min(not_before) FILTER (WHERE not_before > now()) - now())::float8
            FROM {OutboxModel.OutboxStateTable} WHERE parked_at IS NULL
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var due = reader.GetInt64(0);
        metrics.ObserveBacklog(due, reader.GetDouble(1), due);
        if (reader.IsDBNull(2))
        {
            return settings.PollInterval;
        }

        var untilNext = TimeSpan.FromSeconds(Math.Max(0, reader.GetDouble(2)));
        return untilNext < settings.PollInterval ? untilNext : settings.PollInterval;
    }

    /// <summary>LISTEN for commits of other instances; reconnects after an outage.</summary>
    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.DataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => signal.SetLocal();
                await using (var listen = new NpgsqlCommand($"LISTEN {OutboxNotifier<TDbContext>.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                // Anything committed while we were not listening is found by the next claim.
                signal.SetLocal();
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception outage) when (DatabaseFailures.IsUnavailable(outage))
            {
                // Polling covers the gap; the delivery loop already warns about the outage.
                await Task.Delay(MaxOutageBackoff, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Kept for the inbox cleanup loop, which still names it; the classifier is <see cref="DatabaseFailures"/>.</summary>
    internal static bool IsOutage(Exception exception) => DatabaseFailures.IsUnavailable(exception);

    private sealed record GroupOutcome(Guid OutboxId, List<long> Sent, string? Error);
}
