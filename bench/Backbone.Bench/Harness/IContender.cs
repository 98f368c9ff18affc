namespace EventBackbone.Bench.Harness;

/// <summary>
/// One way of moving a message from "the publisher committed it" to "the consumer's effect happened". The harness
/// owns the clock, the pacing, the counting and the statistics, so every contender is measured the same way; a new
/// contender (e.g. <c>eventbackbone-durable</c>) implements only this and is registered in <see cref="ContenderCatalog"/>.
/// </summary>
public interface IContender : IAsyncDisposable
{
    /// <summary>The name used on the command line and in the table, e.g. <c>raw-rabbitmq</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Creates everything the contender needs (its own vhost, scratch database, connections, consumer) once per run,
    /// outside every timing. The consumer reports each message's effect to <paramref name="arrivals"/> exactly when
    /// the effect is done (after its transaction committed, for a durable consumer), and at most once per effect.
    /// </summary>
    Task StartAsync(BenchEnvironment environment, IArrivalSink arrivals, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes one message and completes when the contender considers it committed: the broker confirmed it, or the
    /// outbox transaction committed. Called concurrently, up to the run's in-flight level (<c>--in-flight</c>), the same for
    /// every contender: a contender must not bound it below that level itself.
    /// </summary>
    Task PublishAsync(BenchMessage message, CancellationToken cancellationToken);
}

/// <summary>Where a contender's consumer reports that a message's effect happened.</summary>
public interface IArrivalSink
{
    void Arrived(BenchMessage message);
}
