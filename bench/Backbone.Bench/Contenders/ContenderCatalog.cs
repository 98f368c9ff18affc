using EventBackbone.Bench.Harness;

namespace EventBackbone.Bench.Contenders;

/// <summary>
/// Every contender the command line can name, in default run order. Adding one (e.g. <c>eventbackbone-durable</c>)
/// is one line here plus its <see cref="IContender"/>; the harness does not change.
/// </summary>
public static class ContenderCatalog
{
    public const string Baseline = "masstransit-nondurable";

    /// <summary>What runs without <c>--contenders</c>: the four contenders the earlier tables were measured with.</summary>
    public static readonly IReadOnlyList<string> Default =
        ["raw-rabbitmq", Baseline, "raw-rabbitmq-outbox", "eventbackbone-durable"];

    public static readonly IReadOnlyList<(string Name, Func<IContender> Create)> All =
    [
        ("raw-rabbitmq", () => new RawRabbitMqContender()),
        (Baseline, () => new MassTransitNonDurableContender()),
        ("raw-rabbitmq-outbox", () => new RawRabbitMqOutboxContender()),
        ("eventbackbone-durable", () => new EventBackboneDurableContender()),
        ("eventbackbone-durable-efcore", () => new EventBackboneDurableContender(publishInOwnTransaction: true)),
        ("wolverine-durable", () => new WolverineDurableContender()),
        ("wolverine-durable-confirms", () => new WolverineDurableContender(publisherConfirms: true)),
    ];
}
