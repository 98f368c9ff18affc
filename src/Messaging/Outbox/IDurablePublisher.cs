using MassTransit;
using Npgsql;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Durable publishing for code that has no business transaction of its own (an HTTP edge, a timer, a CLI): what a
/// caller publishes is written to the service database's bus outbox and the call returns once it is committed; it is
/// then sent from memory by this process's delivery service. Concurrent callers share one transaction and one round
/// trip (group commit), but each caller's messages are an outbox group of their own: their order is kept, and one
/// caller's undeliverable message parks only that caller's group.
/// </summary>
/// <remarks>
/// A call that throws has not necessarily failed to commit: when the connection is lost after the commit was sent, its
/// messages may be durable and will be sent. A caller that retries after a failure must give its messages ids (or
/// dedupe keys) that the receivers deduplicate on. Code that has a DbContext transaction keeps using the scoped
/// <see cref="IPublishEndpoint"/> and <c>SaveChanges</c>, which stay atomic with its own writes.
/// </remarks>
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

    /// <summary>
    /// Cancels a scheduled publish that is not being sent at this moment; cancelling twice, or too late, does nothing.
    /// Returns whether it was cancelled (false: already sent, being sent now, or cancelled before).
    /// </summary>
    Task<bool> CancelScheduledPublishAsync(Guid tokenId, CancellationToken cancellationToken);

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
    /// It may run more than once for an item, on a fresh <see cref="DurableBatch"/> each time, when its transaction is
    /// retried (a deadlock, or another caller's constraint violation): only the last run's statements and messages
    /// commit. <paramref name="cancellationToken"/> is always <see cref="CancellationToken.None"/>: the items belong to
    /// several callers, none of whom can cancel the others'.
    /// </summary>
    Task<IReadOnlyList<TResult>> PrepareAsync(IReadOnlyList<TItem> items, DurableBatch batch, CancellationToken cancellationToken);
}

/// <summary>What one writer adds to a group commit: statements, and per item the messages of its own outbox group.</summary>
public sealed class DurableBatch
{
    private readonly IBus _bus;
    private readonly IServiceProvider _provider;
    private readonly OutboxMessageCollector?[] _items;
    private bool _sealed;

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
    /// A statement that commits or rolls back with the messages; rows it returns are discarded. When it fails with a
    /// constraint or data error, the batch is retried caller by caller, so only its own caller fails.
    /// </summary>
    public void Add(NpgsqlBatchCommand statement)
    {
        ThrowIfSealed();
        Statements.Add(statement);
    }

    /// <summary>Publishes here become item <paramref name="item"/>'s own outbox group; nothing reaches the broker before commit.</summary>
    public IPublishEndpoint PublishEndpointFor(int item)
    {
        ThrowIfSealed();
        return (_items[item] ??= new OutboxMessageCollector(_bus, _provider)).PublishEndpoint;
    }

    /// <summary>Once the writer's prepare has returned: a later statement or publish throws instead of being lost.</summary>
    internal void Seal() => _sealed = true;

    internal List<OutboxMessage> MessagesOf(int item) => _items[item]?.Seal() ?? [];

    private void ThrowIfSealed()
    {
        if (_sealed)
        {
            throw new InvalidOperationException("This batch was handed to the commit: add statements and publish before PrepareAsync returns.");
        }
    }
}
