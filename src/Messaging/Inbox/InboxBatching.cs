using System.Runtime.CompilerServices;
using MassTransit;

namespace EventBackbone.Messaging.Inbox;

/// <summary>
/// How the durable inbox commits an endpoint's deliveries: several in one PostgreSQL transaction (the default), or one
/// transaction per message. Declared in the consumer's or saga's definition with
/// <see cref="DurableInboxConfiguration.UseDurableInbox"/>, so the choice is visible next to the consumer.
/// </summary>
public sealed record InboxBatching
{
    /// <summary>
    /// Default largest batch. Two bounds meet here. PostgreSQL keeps 64 subtransactions per backend in shared memory
    /// (PGPROC_MAX_CACHED_SUBXIDS) and each writing consumer of a batch takes up to two (the inbox's savepoint and EF
    /// Core's own around SaveChanges), so 16 leaves room below that cliff, past which every snapshot in the server gets
    /// slower. And a batch can only gather what MassTransit lets into the filter at once — ConcurrentMessageLimit (and
    /// PrefetchCount, which must be at least that) — so a larger size would never fill on our endpoints (8–16 in flight).
    /// </summary>
    public const int DefaultMaxBatchSize = 16;

    /// <summary>Largest size accepted: 32 writing consumers × 2 savepoints is PostgreSQL's 64 cached subtransactions.</summary>
    public const int MaxAllowedBatchSize = 32;

    /// <summary>
    /// Batches of one endpoint's consumer in flight at once: while one commits (its WAL flush, its acks), the next forms
    /// from the deliveries that arrived meanwhile, as the webhook edge's group commit does. More would only split the
    /// in-flight deliveries into smaller batches.
    /// </summary>
    public const int DefaultMaxBatchesInFlight = 2;

    private InboxBatching(int maxBatchSize, int maxBatchesInFlight)
    {
        MaxBatchSize = maxBatchSize;
        MaxBatchesInFlight = maxBatchesInFlight;
    }

    /// <summary>One transaction per delivery: for a consumer whose work must not share a transaction with others'.</summary>
    public static InboxBatching PerMessage { get; } = new(1, int.MaxValue);

    /// <summary>The default: deliveries already waiting at the inbox share a transaction; a lone one runs at once.</summary>
    public static InboxBatching Default { get; } = Batched();

    public int MaxBatchSize { get; }

    public int MaxBatchesInFlight { get; }

    public bool IsPerMessage => MaxBatchSize == 1;

    /// <summary>Deliveries already waiting at the inbox share one transaction, up to <paramref name="maxBatchSize"/>; no timer ever holds one back.</summary>
    public static InboxBatching Batched(int maxBatchSize = DefaultMaxBatchSize, int maxBatchesInFlight = DefaultMaxBatchesInFlight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBatchSize, MaxAllowedBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchesInFlight);
        return new InboxBatching(maxBatchSize, maxBatchesInFlight);
    }
}

public static class DurableInboxConfiguration
{
    // Keyed by the endpoint's configurator: the inbox filters are created while the endpoint is configured, and read
    // the choice when the first message arrives, so the declaration may come before or after the consumer's.
    private static readonly ConditionalWeakTable<IReceiveEndpointConfigurator, InboxBatching> Declared = [];

    /// <summary>
    /// Declares how this endpoint's durable inbox commits, e.g. in a definition's ConfigureConsumer:
    /// <c>endpointConfigurator.UseDurableInbox(InboxBatching.Default)</c> or <c>(InboxBatching.PerMessage)</c>.
    /// An endpoint that declares nothing gets <see cref="InboxBatching.Default"/>. Without durable messaging (embedded
    /// mode) the declaration is recorded and has no effect.
    /// </summary>
    public static void UseDurableInbox(this IReceiveEndpointConfigurator endpointConfigurator, InboxBatching batching)
    {
        ArgumentNullException.ThrowIfNull(endpointConfigurator);
        ArgumentNullException.ThrowIfNull(batching);
        Declared.AddOrUpdate(endpointConfigurator, batching);
    }

    internal static InboxBatching For(IReceiveEndpointConfigurator endpointConfigurator) =>
        Declared.TryGetValue(endpointConfigurator, out var batching) ? batching : InboxBatching.Default;
}
