namespace EventBackbone.Bench.Harness;

/// <summary>
/// The consumer-side settings every contender runs with, so that a ratio compares pipelines and not tuning (bench/README,
/// "Settings that differ"). eventbackbone-durable's consumer definition states the same two values itself.
/// </summary>
public static class ConsumerSideSettings
{
    /// <summary>
    /// Unacknowledged deliveries the broker hands one consumer. Enough that the consumer never waits a round trip for
    /// its next message at 8 concurrent handlers, not so many that a slow consumer hoards the queue.
    /// </summary>
    public const ushort Prefetch = 64;

    /// <summary>
    /// Messages handled at once (MassTransit's ConcurrentMessageLimit, Wolverine's MaximumParallelMessages,
    /// RabbitMQ.Client's consumer dispatch concurrency). One at a time would cap a durable consumer at one commit (one
    /// WAL flush) per message; several let PostgreSQL flush many commits together, as any real inbox consumer would.
    /// </summary>
    public const ushort ConcurrentMessages = 8;

    /// <summary>
    /// Npgsql's Maximum Pool Size of every database pool a contender opens. The contenders of one run stay connected
    /// together, and PostgreSQL allows 100 connections, shared with any test run; at 128 messages in flight the
    /// publishers beyond the pool wait for a connection, as an edge service's requests would.
    /// </summary>
    public const int MaxPoolSize = 30;
}
