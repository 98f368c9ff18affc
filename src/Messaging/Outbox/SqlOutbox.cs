using EventBackbone.Messaging.Durable;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using MassTransit.Transports;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// The bus outbox without EF Core, for a hot path that commits many rows at once: messages published to a
/// <see cref="SqlOutboxBatch"/> are serialized exactly as through the EF Core bus outbox (same MassTransit send
/// pipeline, same rows), then written together with the caller's own statements in <b>one</b> round trip and one
/// implicit transaction, with array parameters instead of one parameter per column per row. The group is written
/// leased to this process's delivery service and handed to it after commit, like <see cref="OutboxNotifyInterceptor"/>
/// does for EF Core. Measured on the webhook edge: EF Core's SaveChanges of 64 receipts and 64 outbox rows (~1 400
/// parameters, a RETURNING per row) was a fifth of the API process's CPU.
/// </summary>
public sealed class SqlOutbox<TDbContext>(
    ServiceDataSource<TDbContext> database,
    IBus bus,
    OutboxHandoff handoff,
    OutboxSignal signal,
    IServiceProvider provider)
    where TDbContext : DbContext
{
    public NpgsqlDataSource DataSource => database.DataSource;

    /// <summary>A new batch: publish to it, add statements, then <see cref="SqlOutboxBatch.CommitAsync"/> once.</summary>
    public SqlOutboxBatch CreateBatch() => new(database.DataSource, bus, handoff, signal, typeof(TDbContext), provider);
}

/// <summary>One transaction's worth of outbox messages and the caller's statements; used once.</summary>
public sealed class SqlOutboxBatch : OutboxSendContext
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly OutboxHandoff _handoff;
    private readonly OutboxSignal _signal;
    private readonly Type _context;
    private readonly IServiceProvider _provider;
    private readonly List<OutboxMessage> _messages = [];
    private readonly List<NpgsqlBatchCommand> _statements = [];
    private readonly Lock _gate = new();
    private bool _committed;

    internal SqlOutboxBatch(NpgsqlDataSource dataSource, IBus bus, OutboxHandoff handoff, OutboxSignal signal, Type context, IServiceProvider provider)
    {
        _dataSource = dataSource;
        _handoff = handoff;
        _signal = signal;
        _context = context;
        _provider = provider;
        PublishEndpoint = new PublishEndpoint(new OutboxPublishEndpointProvider(this, bus));
    }

    /// <summary>Publishes here become outbox rows of this batch; nothing reaches the broker before commit.</summary>
    public IPublishEndpoint PublishEndpoint { get; }

    /// <summary>
    /// A statement of the caller's that commits or rolls back with the messages. It must not return rows: the batch
    /// reads only its own results.
    /// </summary>
    public void Add(NpgsqlBatchCommand statement) => _statements.Add(statement);

    public object? GetService(Type serviceType) => _provider.GetService(serviceType);

    public Task AddSend<T>(SendContext<T> context)
        where T : class
    {
        if (OutboxMessageFactory.DueTime(context) is not null)
        {
            // A scheduled message needs a group of its own with its due time; the EF Core bus outbox writes those.
            throw new NotSupportedException("Scheduled and delayed sends are not supported by the SQL outbox; use the EF Core bus outbox.");
        }

        var message = OutboxMessageFactory.Create(context);
        lock (_gate)
        {
            _messages.Add(message);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs the caller's statements, then writes the group and its messages, all in one round trip and one implicit
    /// transaction (Npgsql sends a batch with a single Sync, so PostgreSQL commits it whole or not at all). Returns
    /// once it is durable; the messages are then handed to this process's delivery service, or left for a claim.
    /// </summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_committed)
        {
            throw new InvalidOperationException("A SQL outbox batch commits once.");
        }

        _committed = true;
        if (_statements.Count == 0 && _messages.Count == 0)
        {
            // Nothing to write (a group commit of repeats only): no connection, no round trip.
            return;
        }

        await using var batch = _dataSource.CreateBatch();
        foreach (var statement in _statements)
        {
            batch.BatchCommands.Add(statement);
        }

        var group = _messages.Count == 0 ? null : NewGroup();
        if (group is not null)
        {
            batch.BatchCommands.Add(InsertGroup(group));
            batch.BatchCommands.Add(InsertMessages(group.OutboxId, _messages));
        }

        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            if (group is not null)
            {
                await ReadSequenceNumbersAsync(reader, cancellationToken);
            }

            // Reading to the end consumes ReadyForQuery, which PostgreSQL sends only after the commit (and its WAL flush).
            while (await reader.NextResultAsync(cancellationToken))
            {
            }
        }

        if (group is null)
        {
            return;
        }

        if (group.LockId is not { } lockId || group.LockedUntil is not { } lockedUntil)
        {
            _signal.Set();
            return;
        }

        _messages.Sort((x, y) => x.SequenceNumber.CompareTo(y.SequenceNumber));
        // Not taken (the delivery service stopped, or its lane is full): the lease runs out and a claim sends it.
        _handoff.TryHandOff(_context, new HandedOffGroup(group.OutboxId, lockId, lockedUntil, _messages));
    }

    private OutboxState NewGroup()
    {
        var group = new OutboxState { OutboxId = NewId.NextGuid() };
        if (_handoff.LeaseFor(_context) is { } lease)
        {
            group.LockId = lease.LockId;
            group.LockedUntil = lease.LockedUntil;
        }

        return group;
    }

    private static NpgsqlBatchCommand InsertGroup(OutboxState group) => new($"""
        INSERT INTO {OutboxModel.OutboxStateTable} (outbox_id, lock_id, locked_until, attempts) VALUES ($1, $2, $3, 0)
        """)
    {
        Parameters =
        {
            new() { Value = group.OutboxId },
            new() { Value = (object?)group.LockId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid },
            new() { Value = (object?)group.LockedUntil ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz },
        },
    };

    /// <summary>One INSERT of all messages from arrays, in publish order; returns each row's sequence number.</summary>
    private static NpgsqlBatchCommand InsertMessages(Guid outboxId, List<OutboxMessage> messages) => new($"""
        INSERT INTO {OutboxModel.OutboxMessagesTable} (outbox_id, message_id, content_type, message_type, body, headers, properties,
            conversation_id, correlation_id, initiator_id, request_id, source_address, destination_address, response_address,
            fault_address, sent_time, expiration_time)
        SELECT $1, m.message_id, m.content_type, m.message_type, m.body, m.headers, m.properties, m.conversation_id,
            m.correlation_id, m.initiator_id, m.request_id, m.source_address, m.destination_address, m.response_address,
            m.fault_address, m.sent_time, m.expiration_time
        FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::uuid[], $9::uuid[], $10::uuid[],
            $11::uuid[], $12::text[], $13::text[], $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[])
            WITH ORDINALITY AS m(message_id, content_type, message_type, body, headers, properties, conversation_id,
                correlation_id, initiator_id, request_id, source_address, destination_address, response_address,
                fault_address, sent_time, expiration_time, position)
        ORDER BY m.position
        RETURNING sequence_number, message_id
        """)
    {
        Parameters =
        {
            new() { Value = outboxId },
            Array(messages, x => x.MessageId),
            Array(messages, x => x.ContentType),
            Array(messages, x => x.MessageType),
            Array(messages, x => x.Body),
            Array(messages, x => x.Headers),
            Array(messages, x => x.Properties),
            Array(messages, x => x.ConversationId),
            Array(messages, x => x.CorrelationId),
            Array(messages, x => x.InitiatorId),
            Array(messages, x => x.RequestId),
            Array(messages, x => x.SourceAddress?.ToString()),
            Array(messages, x => x.DestinationAddress?.ToString()),
            Array(messages, x => x.ResponseAddress?.ToString()),
            Array(messages, x => x.FaultAddress?.ToString()),
            Array(messages, x => x.SentTime),
            Array(messages, x => x.ExpirationTime),
        },
    };

    private static NpgsqlParameter Array<T>(List<OutboxMessage> messages, Func<OutboxMessage, T> column)
    {
        var values = new T[messages.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = column(messages[i]);
        }

        return new NpgsqlParameter { Value = values };
    }

    /// <summary>Matched by message id, in order for repeats: RETURNING's row order is not promised by PostgreSQL.</summary>
    private async Task ReadSequenceNumbersAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var byId = new Dictionary<Guid, Queue<OutboxMessage>>(_messages.Count);
        foreach (var message in _messages)
        {
            if (!byId.TryGetValue(message.MessageId, out var same))
            {
                byId[message.MessageId] = same = new Queue<OutboxMessage>(1);
            }

            same.Enqueue(message);
        }

        // Positioned on the first result that has columns: the message insert's RETURNING is the only one.
        while (reader.FieldCount == 0 && await reader.NextResultAsync(cancellationToken))
        {
        }

        while (await reader.ReadAsync(cancellationToken))
        {
            var message = byId[reader.GetGuid(1)].Dequeue();
            message.SequenceNumber = reader.GetInt64(0);
        }

        if (byId.Values.Any(x => x.Count > 0))
        {
            throw new InvalidOperationException("The outbox insert did not return a sequence number for every message.");
        }
    }
}
