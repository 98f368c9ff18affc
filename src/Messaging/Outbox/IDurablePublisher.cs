using MassTransit;
using Npgsql;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Durable publishing for code that has no business transaction of its own (an HTTP edge, a timer, a CLI): what a
/// caller publishes is written to the service database's bus outbox and the call returns once it is committed; it is
/// then sent from memory by this process's delivery service. Concurrent callers share one transaction and one round
/// trip (group commit), but each caller's messages are an outbox group of their own: their order is kept, and one
/// caller's undeliverable message parks only that caller's group. Code that has a DbContext transaction keeps using
/// the scoped <see cref="IPublishEndpoint"/> and <c>SaveChanges</c>, which stay atomic with its own writes.
/// </summary>
public interface IDurablePublisher
{
    /// <summary>Publishes one message durably; completes after the commit. Cancelling stops the wait for a place in the queue only.</summary>
    Task PublishAsync<T>(T message, Action<PublishContext<T>>? configure, CancellationToken cancellationToken)
        where T : class;

    /// <summary>Everything <paramref name="publish"/> publishes becomes one outbox group, sent in publish order.</summary>
    Task PublishAllAsync(Func<IPublishEndpoint, Task> publish, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes <paramref name="message"/> at <paramref name="dueUtc"/> (a group of its own with that due time, sent by
    /// any delivery instance once due). Returns the token <see cref="CancelScheduledPublishAsync"/> takes.
    /// </summary>
    Task<Guid> SchedulePublishAsync<T>(DateTime dueUtc, T message, Action<PublishContext<T>>? configure, CancellationToken cancellationToken)
        where T : class;

    /// <summary>Cancels a scheduled publish that is not already being sent; cancelling twice, or too late, does nothing.</summary>
    Task CancelScheduledPublishAsync(Guid tokenId, CancellationToken cancellationToken);

    /// <summary>
    /// Commits <paramref name="item"/> through <paramref name="writer"/> in the next group commit, together with every
    /// other item queued for the same writer: the writer sees them all at once (one lookup for the whole batch), adds
    /// its statements and publishes each item's messages; the result is returned after the commit.
    /// </summary>
    Task<TResult> WriteAsync<TItem, TResult>(IDurableBatchWriter<TItem, TResult> writer, TItem item, CancellationToken cancellationToken);
}

/// <summary>A caller's own rows written in the same transaction as its messages (the webhook edge's receipts).</summary>
public interface IDurableBatchWriter<TItem, TResult>
{
    /// <summary>
    /// Called on a committing writer, before the transaction is sent, with every item of this writer in the batch.
    /// Reads (on <see cref="DurableBatch.DataSource"/>) happen outside the transaction. Returns one result per item, in
    /// order. A throw fails these items only; the batch's other callers are written without them.
    /// </summary>
    Task<IReadOnlyList<TResult>> PrepareAsync(IReadOnlyList<TItem> items, DurableBatch batch, CancellationToken cancellationToken);
}

/// <summary>What one writer adds to a group commit: statements, and per item the messages of its own outbox group.</summary>
public sealed class DurableBatch
{
    private readonly IBus _bus;
    private readonly IServiceProvider _provider;
    private readonly OutboxMessageCollector?[] _items;

    internal DurableBatch(NpgsqlDataSource dataSource, IBus bus, IServiceProvider provider, int items)
    {
        DataSource = dataSource;
        _bus = bus;
        _provider = provider;
        _items = new OutboxMessageCollector?[items];
    }

    /// <summary>The service database, for reads before the write (they are not part of the transaction).</summary>
    public NpgsqlDataSource DataSource { get; }

    internal List<NpgsqlBatchCommand> Statements { get; } = [];

    /// <summary>
    /// A statement that commits or rolls back with the messages. It must not return rows. When it fails with a
    /// constraint or data error, the batch is retried caller by caller, so only its own caller fails.
    /// </summary>
    public void Add(NpgsqlBatchCommand statement) => Statements.Add(statement);

    /// <summary>Publishes here become item <paramref name="item"/>'s own outbox group; nothing reaches the broker before commit.</summary>
    public IPublishEndpoint PublishEndpointFor(int item) => (_items[item] ??= new OutboxMessageCollector(_bus, _provider)).PublishEndpoint;

    internal List<OutboxMessage> MessagesOf(int item) => _items[item]?.Messages ?? [];
}
