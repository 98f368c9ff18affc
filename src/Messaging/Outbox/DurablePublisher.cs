using System.Threading.Channels;
using EventBackbone.Messaging.Durable;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// The group-commit engine behind <see cref="IDurablePublisher"/>. Callers queue their serialized messages (or a
/// writer's item); up to <see cref="Writers"/> writers each take whatever is queued — never waiting for more, so a
/// lone caller is written at once — and write it in one round trip and one implicit transaction: one array
/// INSERT of every caller's group, one array INSERT of every message, the writers' statements. Each caller's task
/// completes after PostgreSQL's ReadyForQuery (the commit and its WAL flush); then the groups, written leased to this
/// process's delivery service, are handed to it in memory. One commit serves many callers: PostgreSQL spends ~300 µs
/// of CPU per commit here against ~20 µs per row (bench/README), so commits per message is what bounds throughput.
/// </summary>
internal sealed class DurablePublisher<TDbContext>(
    ServiceDataSource<TDbContext> database,
    IBus bus,
    OutboxHandoff handoff,
    OutboxSignal signal,
    IServiceProvider provider,
    int writers = DurablePublisher<TDbContext>.Writers) : IDurablePublisher
    where TDbContext : DbContext
{
    /// <summary>
    /// Transactions in flight at once: while one commits, the next batch forms and another writer takes it. (Tests
    /// construct the engine with one writer, so that everything queued behind a blocked commit is one batch.)
    /// </summary>
    internal const int Writers = 2;

    /// <summary>Callers per transaction: bounds one commit's size (and its latency) under a burst.</summary>
    internal const int MaxBatch = 64;

    /// <summary>Writes of one batch after a deadlock or serialization failure before its callers are failed.</summary>
    internal const int MaxAttempts = 3;

    private const int QueueCapacity = 4096;

    // A full queue makes callers wait for room: back-pressure instead of unbounded memory.
    private readonly Channel<Caller> _queue = Channel.CreateBounded<Caller>(new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.Wait });
    private int _running;

    /// <summary>Callers waiting for a writer.</summary>
    internal int Queued => _queue.Reader.Count;

    public async Task PublishAsync<T>(T message, Action<PublishContext<T>>? configure, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(message);
        // Serialized on the caller's thread, before it is queued: a message that cannot be serialized fails its own
        // caller only, and keeps the caller's trace context.
        var collector = new OutboxMessageCollector(bus, provider);
        await collector.PublishEndpoint.Publish(message, context => configure?.Invoke(context), cancellationToken);
        await CommitAsync(new MessagesCaller(collector.Seal(), NotBefore: null, ScheduleTokenId: null), cancellationToken);
    }

    public async Task PublishAllAsync(Func<IPublishEndpoint, Task> publish, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(publish);
        var collector = new OutboxMessageCollector(bus, provider);
        await publish(collector.PublishEndpoint);
        await CommitAsync(new MessagesCaller(collector.Seal(), NotBefore: null, ScheduleTokenId: null), cancellationToken);
    }

    public async Task<Guid> SchedulePublishAsync<T>(DateTime dueUtc, T message, Action<PublishContext<T>>? configure, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(message);
        var due = dueUtc.Kind switch
        {
            DateTimeKind.Local => dueUtc.ToUniversalTime(),
            DateTimeKind.Unspecified => DateTime.SpecifyKind(dueUtc, DateTimeKind.Utc),
            _ => dueUtc,
        };
        var collector = new OutboxMessageCollector(bus, provider);
        await collector.PublishEndpoint.Publish(message, context => configure?.Invoke(context), cancellationToken);
        var token = NewId.NextGuid();
        await CommitAsync(new MessagesCaller(collector.Seal(), due, token), cancellationToken);
        return token;
    }

    public async Task<bool> CancelScheduledPublishAsync(Guid tokenId, CancellationToken cancellationToken)
    {
        // Rows leased now are being sent; like the scheduler's Unschedule, those are left. Not "locked_until in the
        // past": after a failed send it is the backoff's end with no lease (lock_id NULL), and a cancel during that
        // backoff did nothing while the "cancelled" message went out on the next attempt.
        await using var command = database.DataSource.CreateCommand($"""
            WITH cancelled AS (
                DELETE FROM {OutboxModel.OutboxStateTable}
                WHERE schedule_token_id = $1 AND (lock_id IS NULL OR locked_until < now())
                RETURNING outbox_id),
            messages AS (DELETE FROM {OutboxModel.OutboxMessagesTable} WHERE outbox_id IN (SELECT outbox_id FROM cancelled))
            SELECT count(*) FROM cancelled
            """);
        command.Parameters.AddWithValue(tokenId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))! > 0;
    }

    public async Task<TResult> WriteAsync<TItem, TResult>(IDurableBatchWriter<TItem, TResult> writer, TItem item, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var caller = new WriterCaller<TItem, TResult>(writer, item);
        await CommitAsync(caller, cancellationToken);
        return caller.Result;
    }

    private async Task CommitAsync(Caller caller, CancellationToken cancellationToken)
    {
        await _queue.Writer.WriteAsync(caller, cancellationToken);
        StartWriterIfIdle();
        // Not cancelled with the caller: once queued, its messages may commit, and a caller that retries on its own
        // cancellation must find them deduplicated downstream anyway.
        await caller.Committed;
    }

    /// <summary>Writers run only while there is work: no hosted service, no idle loop, no timer.</summary>
    private void StartWriterIfIdle()
    {
        while (true)
        {
            var running = Volatile.Read(ref _running);
            if (running >= writers)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _running, running + 1, running) == running)
            {
                // Without the caller's execution context: the loop serves many batches, and the first caller's trace
                // (Activity.Current) would otherwise parent every later batch's spans under an unrelated, finished
                // request, and be kept alive with it.
                using (ExecutionContext.SuppressFlow())
                {
                    _ = Task.Run(WriteLoopAsync);
                }

                return;
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Caller>(MaxBatch);
        while (true)
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var caller))
            {
                batch.Add(caller);
            }

            if (batch.Count > 0)
            {
                await CommitBatchAsync(batch);
                continue;
            }

            Interlocked.Decrement(ref _running);
            // A caller that queued between our last TryRead and the decrement saw this writer running and started none:
            // without this check its entry would wait for the next caller.
            if (!_queue.Reader.TryPeek(out _))
            {
                return;
            }

            if (Interlocked.Increment(ref _running) > writers)
            {
                Interlocked.Decrement(ref _running);
                return;
            }
        }
    }

    private async Task CommitBatchAsync(List<Caller> callers)
    {
        try
        {
            await WriteRetryingAsync(callers);
        }
        catch (Exception failure) when (callers.Count > 1 && IsCallerStatementFailure(failure))
        {
            // One caller's statement broke the transaction (a unique key a concurrent copy committed first, a value
            // out of range): nothing of the batch committed. Each caller is retried alone, so only that one fails.
            foreach (var caller in callers)
            {
                try
                {
                    await WriteRetryingAsync([caller]);
                }
                catch (Exception alone)
                {
                    caller.Fail(alone);
                }
            }
        }
        catch (Exception failure)
        {
            // Everybody still waiting is told. Not "nothing committed": a connection lost after the commit was sent
            // leaves it in doubt (IDurablePublisher's remarks); their groups, if committed, go out after the lease.
            foreach (var caller in callers)
            {
                caller.Fail(failure);
            }
        }
    }

    /// <summary>
    /// A deadlock victim or a serialization failure rolled the whole transaction back through no caller's fault (two
    /// writers inserting overlapping dedupe keys in different orders): the batch is written again, a bounded number
    /// of times, instead of failing all of its callers.
    /// </summary>
    private async Task WriteRetryingAsync(IReadOnlyList<Caller> callers)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await WriteTogetherAsync(callers);
                return;
            }
            catch (PostgresException failure) when (attempt < MaxAttempts && failure.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
            }
        }
    }

    private static bool IsCallerStatementFailure(Exception failure) =>
        failure is PostgresException { SqlState: var state } && (state.StartsWith("23", StringComparison.Ordinal) || state.StartsWith("22", StringComparison.Ordinal));

    private async Task WriteTogetherAsync(IReadOnlyList<Caller> batch)
    {
        // A caller already told its outcome (its writer's prepare failed in an earlier attempt) is not written again:
        // committing it now would publish what its caller was told had failed.
        var callers = batch.Where(x => !x.Committed.IsCompleted).ToList();
        var statements = new List<NpgsqlBatchCommand>();
        var groups = new List<Group>(callers.Count);
        var written = new List<Caller>(callers.Count);
        foreach (var caller in callers)
        {
            if (caller is MessagesCaller plain)
            {
                written.Add(plain);
                if (plain.Messages.Count > 0)
                {
                    groups.Add(new Group(NewId.NextGuid(), plain.Messages, plain.NotBefore, plain.ScheduleTokenId));
                }
            }
        }

        foreach (var byWriter in callers.OfType<IWriterCaller>().GroupBy(x => x.Writer, ReferenceEqualityComparer.Instance))
        {
            var items = byWriter.ToList();
            var writerBatch = new DurableBatch(database.DataSource, bus, provider, items.Count);
            try
            {
                await items[0].PrepareAsync(items, writerBatch);
            }
            catch (Exception failure)
            {
                // This writer's own input or lookup failed: its callers fail, the others are still written.
                foreach (var item in items)
                {
                    item.Fail(failure);
                }

                continue;
            }

            writerBatch.Seal();
            statements.AddRange(writerBatch.Statements);
            for (var i = 0; i < items.Count; i++)
            {
                written.Add((Caller)items[i]);
                if (writerBatch.MessagesOf(i) is { Count: > 0 } messages)
                {
                    groups.Add(new Group(NewId.NextGuid(), messages, NotBefore: null, ScheduleTokenId: null));
                }
            }
        }

        if (statements.Count > 0 || groups.Count > 0)
        {
            await ExecuteBatchAsync(statements, groups);
        }

        foreach (var caller in written)
        {
            caller.Complete();
        }
    }

    private async Task ExecuteBatchAsync(List<NpgsqlBatchCommand> statements, List<Group> groups)
    {
        // Scheduled groups wait for their due time in the table; the others are written leased to this process's
        // delivery service, so no other instance claims them while they are sent from memory.
        var lease = handoff.LeaseFor(typeof(TDbContext));
        await using var batch = database.DataSource.CreateBatch();
        // The outbox inserts first: the message insert's RETURNING is then the first result with columns, whatever
        // result sets the writers' statements produce (an INSERT … RETURNING read first failed callers whose rows had
        // already committed).
        if (groups.Count > 0)
        {
            batch.BatchCommands.Add(InsertGroups(groups, lease));
            batch.BatchCommands.Add(InsertMessages(groups));
        }

        foreach (var statement in statements)
        {
            batch.BatchCommands.Add(statement);
        }

        await using (var reader = await batch.ExecuteReaderAsync())
        {
            if (groups.Count > 0)
            {
                await ReadSequenceNumbersAsync(reader, groups);
            }

            // Reading to the end consumes ReadyForQuery, which PostgreSQL sends only after the commit (and its WAL flush).
            while (await reader.NextResultAsync())
            {
            }
        }

        var waiting = false;
        foreach (var group in groups)
        {
            if (group.NotBefore is not null || lease is not { } leased)
            {
                waiting = true;
                continue;
            }

            group.Messages.Sort((x, y) => x.SequenceNumber.CompareTo(y.SequenceNumber));
            // Not taken (the delivery service stopped, or its lane is full): the lease runs out and a claim sends it.
            handoff.TryHandOff(typeof(TDbContext), new HandedOffGroup(group.OutboxId, leased.LockId, leased.LockedUntil, group.Messages));
        }

        if (waiting)
        {
            // Unleased or scheduled groups: the delivery services re-read the next due time, here and elsewhere.
            signal.Set();
        }
    }

    private static NpgsqlBatchCommand InsertGroups(List<Group> groups, (Guid LockId, DateTime LockedUntil)? lease)
    {
        var lockIds = new Guid?[groups.Count];
        var lockedUntil = new DateTime?[groups.Count];
        for (var i = 0; i < groups.Count; i++)
        {
            if (groups[i].NotBefore is null && lease is { } leased)
            {
                lockIds[i] = leased.LockId;
                lockedUntil[i] = leased.LockedUntil;
            }
        }

        return new NpgsqlBatchCommand($"""
            INSERT INTO {OutboxModel.OutboxStateTable} (outbox_id, not_before, schedule_token_id, lock_id, locked_until, attempts)
            SELECT g.outbox_id, coalesce(g.not_before, now()), g.schedule_token_id, g.lock_id, g.locked_until, 0
            FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::timestamptz[])
                AS g(outbox_id, not_before, schedule_token_id, lock_id, locked_until)
            """)
        {
            Parameters =
            {
                new() { Value = groups.Select(x => x.OutboxId).ToArray() },
                new() { Value = groups.Select(x => x.NotBefore).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                new() { Value = groups.Select(x => x.ScheduleTokenId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                new() { Value = lockIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                new() { Value = lockedUntil, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
            },
        };
    }

    /// <summary>One INSERT of every caller's messages from arrays, group by group in publish order; returns each row's sequence number.</summary>
    private static NpgsqlBatchCommand InsertMessages(List<Group> groups)
    {
        var rows = new List<OutboxMessage>();
        var outboxIds = new List<Guid>();
        foreach (var group in groups)
        {
            foreach (var message in group.Messages)
            {
                message.OutboxId = group.OutboxId;
                rows.Add(message);
                outboxIds.Add(group.OutboxId);
            }
        }

        return new NpgsqlBatchCommand($"""
            INSERT INTO {OutboxModel.OutboxMessagesTable} (outbox_id, message_id, content_type, message_type, body, headers, properties,
                conversation_id, correlation_id, initiator_id, request_id, source_address, destination_address, response_address,
                fault_address, sent_time, expiration_time)
            SELECT m.outbox_id, m.message_id, m.content_type, m.message_type, m.body, m.headers, m.properties, m.conversation_id,
                m.correlation_id, m.initiator_id, m.request_id, m.source_address, m.destination_address, m.response_address,
                m.fault_address, m.sent_time, m.expiration_time
            FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::uuid[], $10::uuid[],
                $11::uuid[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[])
                WITH ORDINALITY AS m(outbox_id, message_id, content_type, message_type, body, headers, properties, conversation_id,
                    correlation_id, initiator_id, request_id, source_address, destination_address, response_address,
                    fault_address, sent_time, expiration_time, position)
            ORDER BY m.position
            RETURNING sequence_number, message_id, outbox_id
            """)
        {
            Parameters =
            {
                new() { Value = outboxIds.ToArray() },
                Array(rows, x => x.MessageId),
                Array(rows, x => x.ContentType),
                Array(rows, x => x.MessageType),
                Array(rows, x => x.Body),
                Array(rows, x => x.Headers),
                Array(rows, x => x.Properties),
                Array(rows, x => x.ConversationId),
                Array(rows, x => x.CorrelationId),
                Array(rows, x => x.InitiatorId),
                Array(rows, x => x.RequestId),
                Array(rows, x => x.SourceAddress?.ToString()),
                Array(rows, x => x.DestinationAddress?.ToString()),
                Array(rows, x => x.ResponseAddress?.ToString()),
                Array(rows, x => x.FaultAddress?.ToString()),
                Array(rows, x => x.SentTime),
                Array(rows, x => x.ExpirationTime),
            },
        };
    }

    private static NpgsqlParameter Array<T>(List<OutboxMessage> messages, Func<OutboxMessage, T> column)
    {
        var values = new T[messages.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = column(messages[i]);
        }

        return new NpgsqlParameter { Value = values };
    }

    /// <summary>Matched by group and message id, in order for repeats: RETURNING's row order is not promised by PostgreSQL.</summary>
    private static async Task ReadSequenceNumbersAsync(NpgsqlDataReader reader, List<Group> groups)
    {
        var byId = new Dictionary<(Guid OutboxId, Guid MessageId), Queue<OutboxMessage>>();
        foreach (var group in groups)
        {
            foreach (var message in group.Messages)
            {
                if (!byId.TryGetValue((group.OutboxId, message.MessageId), out var same))
                {
                    byId[(group.OutboxId, message.MessageId)] = same = new Queue<OutboxMessage>(1);
                }

                same.Enqueue(message);
            }
        }

        // Positioned on the first result that has columns: the message insert's RETURNING, which precedes the writers' statements.
        while (reader.FieldCount == 0 && await reader.NextResultAsync())
        {
        }

        while (await reader.ReadAsync())
        {
            byId[(reader.GetGuid(2), reader.GetGuid(1))].Dequeue().SequenceNumber = reader.GetInt64(0);
        }

        if (byId.Values.Any(x => x.Count > 0))
        {
            throw new InvalidOperationException("The outbox insert did not return a sequence number for every message.");
        }
    }

    private sealed record Group(Guid OutboxId, List<OutboxMessage> Messages, DateTime? NotBefore, Guid? ScheduleTokenId);

    private abstract class Caller
    {
        private readonly TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Committed => _committed.Task;

        public void Complete() => _committed.TrySetResult();

        public void Fail(Exception failure) => _committed.TrySetException(failure);
    }

    private sealed class MessagesCaller(List<OutboxMessage> messages, DateTime? NotBefore, Guid? ScheduleTokenId) : Caller
    {
        public List<OutboxMessage> Messages { get; } = messages;

        public DateTime? NotBefore { get; } = NotBefore;

        public Guid? ScheduleTokenId { get; } = ScheduleTokenId;
    }

    private interface IWriterCaller
    {
        object Writer { get; }

        Task PrepareAsync(IReadOnlyList<IWriterCaller> sameWriter, DurableBatch batch);

        void Fail(Exception failure);
    }

    private sealed class WriterCaller<TItem, TResult>(IDurableBatchWriter<TItem, TResult> writer, TItem item) : Caller, IWriterCaller
    {
        public object Writer => writer;

        public TResult Result { get; private set; } = default!;

        /// <summary>Every item of this writer in the batch, at once; results are kept until the commit tells them.</summary>
        public async Task PrepareAsync(IReadOnlyList<IWriterCaller> sameWriter, DurableBatch batch)
        {
            var callers = sameWriter.Cast<WriterCaller<TItem, TResult>>().ToList();
            var results = await writer.PrepareAsync([.. callers.Select(x => x.Item)], batch, CancellationToken.None);
            if (results.Count != callers.Count)
            {
                throw new InvalidOperationException($"{writer.GetType().Name} returned {results.Count} results for {callers.Count} items.");
            }

            for (var i = 0; i < callers.Count; i++)
            {
                callers[i].Result = results[i];
            }
        }

        private TItem Item => item;
    }
}
