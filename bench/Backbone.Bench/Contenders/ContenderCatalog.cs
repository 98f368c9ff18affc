using EventBackbone.Bench.Harness;

namespace EventBackbone.Bench.Contenders;

/// <summary>
/// Every contender the command line can name, in default run order. Adding one (e.g. <c>eventbackbone-durable</c>)
/// is one line here plus its <see cref="IContender"/>; the harness does not change.
/// </summary>
public static class ContenderCatalog
{
    public const string Baseline = "masstransit-nondurable";

    public static readonly IReadOnlyList<(string Name, Func<IContender> Create)> All =
    [
        ("raw-rabbitmq", () => new RawRabbitMqContender()),
        (Baseline, () => new MassTransitNonDurableContender()),
        ("raw-rabbitmq-outbox", () => new RawRabbitMqOutboxContender()),
        ("eventbackbone-durable", () => new EventBackboneDurableContender()),
    ];
}
