using System.Data;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using MassTransit;
using MassTransit.DependencyInjection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace EventBackbone.Messaging.Inbox;

/// <summary>What became of one delivery handed to a batch.</summary>
internal enum InboxBatchOutcome
{
    /// <summary>Its consumer ran and committed, and what it published was handed to the broker.</summary>
    Consumed,

    /// <summary>Its effect had already committed (redelivery): nothing ran.</summary>
    Duplicate,

    /// <summary>The batch as a whole failed before its commit: nothing of it happened; run the delivery on its own.</summary>
    Replay,
}

/// <summary>
/// Group commit for one consumer's inbox on one endpoint: deliveries that are at the inbox at the same time share one
/// PostgreSQL transaction — their inbox rows in one statement, each consumer in turn in its own consume scope on the
/// batch's connection, one commit, then the hand-off of what they published and one statement marking it delivered.
/// PostgreSQL's cost is per commit (~300 µs of CPU here, DESIGN.md §7), so commits per message is what this cuts.
/// A delivery that arrives while nothing else waits becomes a batch of one at once: no timer ever holds one back.
/// </summary>
internal sealed partial class InboxBatchCommit<TDbContext, TMessage>(
    IConsumeScopeProvider scopes,
    IServiceProvider services,
    InboxConsumerOptions options,
    InboxBatching batching,
    Func<ConsumeContext<TMessage>, Guid>? instanceIdOf)
    where TDbContext : DbContext
    where TMessage : class
{
    private readonly Lock _gate = new();
    private readonly List<Delivery> _queue = [];
    private int _inFlight;
    private long _arrivals;

    /// <summary>Returns once the delivery's fate is decided — after its batch committed; throws its consumer's failure.</summary>
    public async Task<InboxBatchOutcome> ConsumeAsync(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next, Guid messageId)
    {
        var delivery = new Delivery(context, next, messageId, Interlocked.Increment(ref _arrivals), OrderKeyOf(context));
        bool lead;
        lock (_gate)
        {
            _queue.Add(delivery);
            lead = _inFlight < batching.MaxBatchesInFlight;
            if (lead)
            {
                _inFlight++;
            }
        }

        if (lead)
        {
            await LeadAsync();
        }

        return await delivery.Completion.Task;
    }

    /// <summary>
    /// The saga instance (or the message's CorrelationId) a delivery locks: batches run their deliveries in this order.
    /// Without one, arrival order is kept (Guid.Empty for all).
    /// </summary>
    private Guid OrderKeyOf(ConsumeContext<TMessage> context)
    {
        if (instanceIdOf is not null)
        {
            try
            {
                return instanceIdOf(context);
            }
            catch (Exception unreadable) when (unreadable is NullReferenceException or InvalidOperationException or ArgumentException)
            {
                // A message the saga cannot correlate fails in the saga's own filter; here it only loses its place.
                return Guid.Empty;
            }
        }

        return context.CorrelationId ?? Guid.Empty;
    }

    /// <summary>
    /// Runs one batch of whatever is queued, then, if more arrived meanwhile, hands the slot on to a new leader in the
    /// background, so this delivery's own ack does not wait for other deliveries' batches.
    /// </summary>
    private async Task LeadAsync()
    {
        List<Delivery> batch;
        lock (_gate)
        {
            batch = TakeBatch();
            if (batch.Count == 0)
            {
                _inFlight--;
                return;
            }
        }

        await RunAsync(batch);

        bool more;
        lock (_gate)
        {
            more = _queue.Count > 0;
            if (!more)
            {
                _inFlight--;
            }
        }

        if (more)
        {
            _ = Task.Run(LeadAsync);
        }
    }

    /// <summary>
    /// Up to the batch size, oldest first. A second copy of a message already in the batch stays queued for the next
    /// one: the inbox upsert meeting one key twice in one statement fails (21000) for the whole batch.
    /// </summary>
    private List<Delivery> TakeBatch()
    {
        var batch = new List<Delivery>(Math.Min(_queue.Count, batching.MaxBatchSize));
        var keys = new HashSet<Guid>();
        for (var i = 0; i < _queue.Count && batch.Count < batching.MaxBatchSize;)
        {
            if (keys.Add(_queue[i].MessageId))
            {
                batch.Add(_queue[i]);
                _queue.RemoveAt(i);
            }
            else
            {
                i++;
            }
        }

        return batch;
    }

    private async Task RunAsync(List<Delivery> batch)
    {
        var metrics = services.GetRequiredService<MessagingMetrics>();
        var logger = services.GetRequiredService<ILogger<InboxBatchCommit<TDbContext, TMessage>>>();
        metrics.RecordInboxBatch(batch.Count, options.ConsumerType);
        try
        {
            await CommitAsync(batch, metrics, logger);
        }
        catch (Exception failure)
        {
            // Nothing of the batch committed, and nothing of it was acked: each delivery runs again on its own, so the
            // failure is isolated to whichever message causes it (or all retry normally when the database is down).
            LogBatchFailed(logger, failure, batch.Count, options.ConsumerType);
            foreach (var delivery in batch)
            {
                delivery.Completion.TrySetResult(InboxBatchOutcome.Replay);
            }
        }
    }

    private async Task CommitAsync(List<Delivery> batch, MessagingMetrics metrics, ILogger logger)
    {
        // One global order per batch: saga (and other) rows are locked in correlation order by every batch, so two batches
        // holding the same instances in opposite arrival order cannot deadlock; arrival order is kept per correlation id.
        var ordered = batch.OrderBy(x => x.OrderKey).ThenBy(x => x.Arrival).ToList();
        var database = services.GetRequiredService<ServiceDataSource<TDbContext>>();
        var scopesOpened = new List<IConsumeScopeContext<TMessage>>(ordered.Count);
        var connectionStrings = new Dictionary<IConsumeScopeContext<TMessage>, string?>();
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted);
        var signalOutbox = false;
        try
        {
            var rows = await UpsertInboxAsync(connection, transaction, ordered);
            for (var position = 0; position < ordered.Count; position++)
            {
                var delivery = ordered[position];
                var row = rows[delivery.MessageId];
                if (row.Inserted)
                {
                    var scope = await scopes.GetScope(delivery.Context);
                    scopesOpened.Add(scope);
                    connectionStrings[scope] = scope.GetService<TDbContext>().Database.GetConnectionString();
                    signalOutbox |= await ConsumeAsync(delivery, position, scope, connection, transaction);
                }
                else if (!row.Delivered)
                {
                    // Consumed and committed before, but its messages never reached the broker (crash after commit).
                    await DeliverStoredAsync(delivery, connection, transaction, metrics);
                    delivery.Outcome = InboxBatchOutcome.Duplicate;
                }
                else
                {
                    delivery.Outcome = InboxBatchOutcome.Duplicate;
                }
            }

            await SettleAsync(connection, transaction, ordered);
            await transaction.CommitAsync();
        }
        finally
        {
            foreach (var scope in scopesOpened)
            {
                Detach(scope.GetService<TDbContext>(), connectionStrings.GetValueOrDefault(scope));
                await scope.DisposeAsync();
            }
        }

        if (signalOutbox)
        {
            // Scheduled messages went to the bus outbox: wake its delivery (EF Core's commit event never fired here).
            services.GetRequiredService<OutboxSignal>().Set();
        }

        await HandOffAsync(ordered, connection, metrics, logger);
        foreach (var delivery in ordered)
        {
            if (delivery.Failure is { } conflict && DatabaseFailures.IsLockConflict(conflict))
            {
                // Two batches (or a batch and another writer) took the same rows in opposite orders: a consumer choosing
                // its own keys gives no order to sort by, and PostgreSQL broke the deadlock by failing this consumer's
                // statement. Its savepoint and inbox row are gone; run it again alone rather than fault a sound message.
                delivery.Completion.TrySetResult(InboxBatchOutcome.Replay);
            }
            else if (delivery.Failure is { } failure)
            {
                delivery.Completion.TrySetException(failure);
            }
            else
            {
                if (delivery.Outcome == InboxBatchOutcome.Duplicate)
                {
                    metrics.DuplicatesDropped.Add(1);
                }

                delivery.Completion.TrySetResult(delivery.Outcome);
            }
        }
    }

    /// <summary>
    /// The consumer on its own scope's DbContext, moved onto the batch's connection and transaction. A failure rolls
    /// back to the savepoint taken before its first statement and is kept for its own delivery; a failure to roll back
    /// (lost connection, aborted transaction) is the batch's and propagates. Returns whether it scheduled messages.
    /// </summary>
    private async Task<bool> ConsumeAsync(
        Delivery delivery, int position, IConsumeScopeContext<TMessage> scope, NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        var db = scope.GetService<TDbContext>();
        db.Database.SetDbConnection(connection);
        await db.Database.UseTransactionAsync(transaction);
        var savepoint = InboxSavepointInterceptor.Instance.Arm(db, position);
        try
        {
            var inbox = new InboxConsumeContext<TDbContext, TMessage>(scope.Context, options, scope.GetService<IServiceProvider>(), db, delivery.MessageId);
            using (scope.PushConsumeContext(inbox))
            {
                await delivery.Next.Send(inbox);
                await inbox.ConsumeCompleted;
            }

            await db.SaveChangesAsync(delivery.Context.CancellationToken);
            // Before the commit: a consumer that left the transaction aborted fails alone, or COMMIT would roll back all.
            await savepoint.ThrowIfSwallowedAsync(connection, transaction, options.ConsumerType);
            delivery.Outgoing = inbox.Outgoing;
            delivery.Outcome = InboxBatchOutcome.Consumed;
            return db.ChangeTracker.Entries<OutboxState>().Any();
        }
        catch (Exception failure)
        {
            if (savepoint.Taken)
            {
                await using var rollback = new NpgsqlCommand($"ROLLBACK TO SAVEPOINT {savepoint.Name}", connection, transaction);
                await rollback.ExecuteNonQueryAsync();
            }
            else if (savepoint.StatementFailed)
            {
                // Nothing of this consumer's to roll back to, and perhaps an aborted transaction: the batch fails and
                // replays, rather than COMMIT answering with a silent ROLLBACK of every other consumer's effect.
                throw;
            }

            delivery.Failure = failure;
            return false;
        }
        finally
        {
            InboxSavepointInterceptor.Instance.Disarm(db);
        }
    }

    /// <summary>
    /// Back to the DbContext's own connection before it returns to the pool: a pooled context still holding the batch's
    /// connection object would share it with whichever scope got that context next.
    /// </summary>
    private static void Detach(TDbContext db, string? connectionString)
    {
        db.ChangeTracker.Clear();
        db.Database.UseTransaction(null);
        db.Database.SetDbConnection(null);
        if (db.Database.GetConnectionString() is null && connectionString is not null)
        {
            db.Database.SetConnectionString(connectionString);
        }
    }

    /// <summary>
    /// One statement for the whole batch: a failed consumer's inbox row goes (its retry must find none), and a row whose
    /// consumer published is marked "not delivered" until the hand-off, so a redelivery after a crash sends them.
    /// </summary>
    private async Task SettleAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<Delivery> ordered)
    {
        var failed = ordered.Where(x => x.Failure is not null).Select(x => x.MessageId).ToArray();
        var publishing = ordered.Where(x => x.Failure is null && x.Outgoing.Count > 0).Select(x => x.MessageId).ToArray();
        if (failed.Length == 0 && publishing.Length == 0)
        {
            return;
        }

        await using var command = new NpgsqlCommand($"""
            WITH failed AS (
                DELETE FROM {OutboxModel.InboxStateTable} WHERE consumer_id = $1 AND message_id = ANY($2))
            UPDATE {OutboxModel.InboxStateTable} SET delivered = NULL WHERE consumer_id = $1 AND message_id = ANY($3)
            """, connection, transaction);
        command.Parameters.AddWithValue(options.ConsumerId);
        command.Parameters.Add(new NpgsqlParameter { Value = failed, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter { Value = publishing, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// After the commit: each delivery's messages in order through its own context, then one statement marking all that
    /// reached the broker delivered. A delivery whose send failed is not acked; its redelivery sends the stored rows.
    /// </summary>
    private async Task HandOffAsync(List<Delivery> ordered, NpgsqlConnection connection, MessagingMetrics metrics, ILogger logger)
    {
        var delivered = new List<Guid>();
        foreach (var delivery in ordered.Where(x => x.Failure is null && x.Outgoing.Count > 0))
        {
            try
            {
                foreach (var message in delivery.Outgoing)
                {
                    await StoredMessageSender.SendAsync(delivery.Context, message, delivery.Context.CancellationToken);
                    metrics.Delivered.Add(1);
                }

                delivered.Add(delivery.MessageId);
            }
            catch (Exception failure)
            {
                delivery.Failure = failure;
            }
        }

        if (delivered.Count == 0)
        {
            return;
        }

        try
        {
            await using var command = new NpgsqlCommand($"""
                WITH sent AS (
                    DELETE FROM {OutboxModel.OutboxMessagesTable} WHERE inbox_consumer_id = $1 AND inbox_message_id = ANY($2))
                UPDATE {OutboxModel.InboxStateTable} SET delivered = now() WHERE consumer_id = $1 AND message_id = ANY($2)
                """, connection);
            command.Parameters.AddWithValue(options.ConsumerId);
            command.Parameters.Add(new NpgsqlParameter { Value = delivered.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            await command.ExecuteNonQueryAsync();
        }
        catch (Exception failure) when (failure is NpgsqlException or TimeoutException)
        {
            // The messages reached the broker and the effects are committed: a redelivery would only resend them (and
            // the receivers' inboxes drop the copies), so the deliveries are acked; cleanup adopts the rows later.
            LogMarkDeliveredFailed(logger, failure, delivered.Count, options.ConsumerType);
        }
    }

    private async Task DeliverStoredAsync(Delivery delivery, NpgsqlConnection connection, NpgsqlTransaction transaction, MessagingMetrics metrics)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        var connectionString = db.Database.GetConnectionString();
        db.Database.SetDbConnection(connection);
        await db.Database.UseTransactionAsync(transaction);
        try
        {
            var stored = await db.Set<OutboxMessage>().AsNoTracking()
                .Where(x => x.InboxMessageId == delivery.MessageId && x.InboxConsumerId == options.ConsumerId)
                .OrderBy(x => x.SequenceNumber)
                .ToListAsync();
            foreach (var message in stored)
            {
                await StoredMessageSender.SendAsync(delivery.Context, message, delivery.Context.CancellationToken);
                metrics.Delivered.Add(1);
            }
        }
        finally
        {
            Detach(db, connectionString);
        }

        await using var command = new NpgsqlCommand($"""
            WITH sent AS (
                DELETE FROM {OutboxModel.OutboxMessagesTable} WHERE inbox_message_id = $1 AND inbox_consumer_id = $2)
            UPDATE {OutboxModel.InboxStateTable} SET delivered = now() WHERE message_id = $1 AND consumer_id = $2
            """, connection, transaction);
        command.Parameters.AddWithValue(delivery.MessageId);
        command.Parameters.AddWithValue(options.ConsumerId);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// All of the batch's inbox rows in one statement, inserted in message-id order so concurrent batches sharing a
    /// redelivered message lock its row in the same order. Inserted rows are "consumed and delivered": a consumer that
    /// fails has its row deleted before the commit, so an existing row always means "consumed".
    /// </summary>
    private async Task<Dictionary<Guid, InboxRow>> UpsertInboxAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<Delivery> ordered)
    {
        var ids = ordered.Select(x => x.MessageId).Order().ToArray();
        await using var command = new NpgsqlCommand($"""
            INSERT INTO {OutboxModel.InboxStateTable} (message_id, consumer_id, received, receive_count, consumed, delivered)
            SELECT id, $1, now(), 1, now(), now() FROM unnest($2::uuid[]) AS id ORDER BY id
            ON CONFLICT (message_id, consumer_id) DO UPDATE SET receive_count = {OutboxModel.InboxStateTable}.receive_count + 1
            RETURNING message_id, xmax = 0, delivered IS NOT NULL
            """, connection, transaction);
        command.Parameters.AddWithValue(options.ConsumerId);
        command.Parameters.Add(new NpgsqlParameter { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        var rows = new Dictionary<Guid, InboxRow>(ids.Length);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows[reader.GetGuid(0)] = new InboxRow(reader.GetBoolean(1), reader.GetBoolean(2));
        }

        return rows;
    }

    [LoggerMessage(LogLevel.Warning, "A batch of {Count} {ConsumerType} deliveries failed before its commit; each is replayed in its own transaction")]
    private static partial void LogBatchFailed(ILogger logger, Exception failure, int count, string consumerType);

    [LoggerMessage(LogLevel.Warning, "{Count} {ConsumerType} deliveries were handed to the broker but not marked delivered; inbox cleanup adopts their rows")]
    private static partial void LogMarkDeliveredFailed(ILogger logger, Exception failure, int count, string consumerType);

    private sealed record InboxRow(bool Inserted, bool Delivered);

    private sealed class Delivery(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next, Guid messageId, long arrival, Guid orderKey)
    {
        public Guid OrderKey { get; } = orderKey;

        public ConsumeContext<TMessage> Context { get; } = context;

        public IPipe<ConsumeContext<TMessage>> Next { get; } = next;

        public Guid MessageId { get; } = messageId;

        public long Arrival { get; } = arrival;

        public TaskCompletionSource<InboxBatchOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InboxBatchOutcome Outcome { get; set; }

        public Exception? Failure { get; set; }

        public IReadOnlyList<OutboxMessage> Outgoing { get; set; } = [];
    }
}
