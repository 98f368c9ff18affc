using System.Globalization;

namespace EventBackbone.Bench.Harness;

public sealed record BenchOptions(
    int Messages,
    int Rounds,
    int WarmupMessages,
    IReadOnlyList<string> Contenders,
    string Baseline,
    bool Smoke,
    bool HeadToHead,
    IReadOnlyList<double> LatencyLoads,
    IReadOnlyList<int> InFlightLevels,
    long PrefilledRows,
    long ExpiredRows,
    IReadOnlyList<string> Topologies)
{
    /// <summary>
    /// The head-to-head comparison: the broker ceiling, MassTransit without a database, the no-framework durable
    /// baseline, Wolverine and us, against us.
    /// </summary>
    public static readonly IReadOnlyList<string> HeadToHeadContenders =
        ["raw-rabbitmq", "masstransit-nondurable", "raw-rabbitmq-outbox", "wolverine-durable", "eventbackbone-durable", "eventbackbone-durable-efcore"];

    /// <summary>
    /// A durable service's edge at modest concurrency, and the level at which the broker-only paths pipeline their
    /// confirms best (bench/README, "In-flight levels").
    /// </summary>
    public static readonly IReadOnlyList<int> DefaultInFlightLevels = [16, 128];

    public const string HeadToHeadBaseline = "eventbackbone-durable";

    public const string Usage = """
        Usage: dotnet run -c Release --project bench/Backbone.Bench -- [options]
          --messages N        messages per throughput phase (default 10000; the latency phase sends N/2)
          --rounds R          interleaved rounds per contender (default 7)
          --contenders a,b    which contenders, in this order (default: raw-rabbitmq, masstransit-nondurable,
                              raw-rabbitmq-outbox, eventbackbone-durable; also wolverine-durable, wolverine-durable-confirms)
          --baseline name     contender the ratios are taken against (default masstransit-nondurable)
          --head-to-head      raw-rabbitmq, masstransit-nondurable, raw-rabbitmq-outbox, wolverine-durable,
                              eventbackbone-durable, ratios to eventbackbone-durable, latency at 25/50/75 % of each
                              contender's peak; defaults 3000 messages × 3 rounds per level (the other options still apply)
          --in-flight 16,128  publishes outstanding at once, the same for every contender; each level is a full set of
                              interleaved rounds with its own rows and ratios (default 16,128)
          --prefilled-rows N  after the rounds: eventbackbone-durable's throughput with N rows inside the duplicate-
                              detection window in its inbox ÷ on an empty inbox, then the inbox cleanup's deleted/s
                              against the pipeline's inserted/s (needs eventbackbone-durable in the run)
          --expired-rows M    rows already outside the window for the cleanup measurement (default 500000)
          --topology a,b      run the durable EventBackbone contender(s) once per topology, rounds interleaved, named
                              contender@topology, ratios to @single: single (one node, classic queues), cluster (the
                              three-node cluster of scripts/infra.sh cluster, quorum queues, the same PostgreSQL),
                              cluster-sync (the cluster, and the PostgreSQL primary with its synchronous standby);
                              contenders default to eventbackbone-durable
          --no-latency        throughput phases only (no paced latency phases): half the run time per round
          --smoke             300 messages, 1 round: checks that nothing is lost or duplicated
        """;

    /// <summary>The contenders that <c>--topology</c> can place on another broker and database.</summary>
    public static readonly IReadOnlyList<string> TopologyContenders = ["eventbackbone-durable", "eventbackbone-durable-efcore"];

    /// <summary>A contender's name in a <c>--topology</c> run, as the table shows it.</summary>
    public static string AtTopology(string contender, string topology) => $"{contender}@{topology}";

    /// <summary>Reads the command line; a malformed one throws <see cref="ArgumentException"/> with the reason.</summary>
    public static BenchOptions Parse(
        IReadOnlyList<string> args, IReadOnlyList<string> known, IReadOnlyList<string> defaults, string defaultBaseline)
    {
        int? messages = null;
        int? rounds = null;
        IReadOnlyList<int>? inFlightLevels = null;
        long prefilledRows = 0;
        long expiredRows = 500_000;
        var smoke = false;
        var headToHead = false;
        var noLatency = false;
        IReadOnlyList<string> topologies = [];
        string? baseline = null;
        IReadOnlyList<string>? contenders = null;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--messages":
                    messages = PositiveInt(args, ++i, "--messages");
                    break;
                case "--rounds":
                    rounds = PositiveInt(args, ++i, "--rounds");
                    break;
                case "--contenders":
                    contenders = Value(args, ++i, "--contenders").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case "--baseline":
                    baseline = Value(args, ++i, "--baseline");
                    break;
                case "--in-flight":
                    inFlightLevels = [.. Value(args, ++i, "--in-flight")
                        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(level => int.TryParse(level, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
                            ? value
                            : throw new ArgumentException($"--in-flight needs positive whole numbers, not '{level}'."))];
                    break;
                case "--prefilled-rows":
                    prefilledRows = PositiveInt(args, ++i, "--prefilled-rows");
                    break;
                case "--expired-rows":
                    expiredRows = PositiveInt(args, ++i, "--expired-rows");
                    break;
                case "--topology":
                    topologies = Value(args, ++i, "--topology").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case "--no-latency":
                    noLatency = true;
                    break;
                case "--smoke":
                    smoke = true;
                    break;
                case "--head-to-head":
                    headToHead = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'.");
            }
        }

        contenders ??= topologies.Count > 0 ? [TopologyContenders[0]] : headToHead ? HeadToHeadContenders : defaults;
        baseline ??= headToHead ? HeadToHeadBaseline : defaultBaseline;
        var unknown = contenders.Where(name => !known.Contains(name)).ToList();
        if (unknown.Count > 0 || contenders.Count == 0)
        {
            throw new ArgumentException(
                $"Unknown contender(s) {string.Join(", ", unknown)}; known: {string.Join(", ", known)}.");
        }

        if (contenders.Distinct().Count() != contenders.Count)
        {
            throw new ArgumentException("A contender is listed twice.");
        }

        inFlightLevels ??= DefaultInFlightLevels;
        if (inFlightLevels.Count == 0 || inFlightLevels.Distinct().Count() != inFlightLevels.Count)
        {
            throw new ArgumentException("--in-flight needs one or more distinct levels.");
        }

        if (prefilledRows > 0 && !contenders.Contains(PrefilledContender))
        {
            throw new ArgumentException($"--prefilled-rows measures {PrefilledContender}, which is not in the run.");
        }

        if (topologies.Count > 0)
        {
            var unknownTopologies = topologies.Where(name => !BenchTopology.Names.Contains(name)).ToList();
            if (unknownTopologies.Count > 0 || topologies.Distinct().Count() != topologies.Count)
            {
                throw new ArgumentException(
                    $"--topology needs distinct names from {string.Join(", ", BenchTopology.Names)}, not '{string.Join(",", topologies)}'.");
            }

            if (contenders.Any(name => !TopologyContenders.Contains(name)))
            {
                throw new ArgumentException($"--topology runs only {string.Join(" and ", TopologyContenders)}.");
            }

            if (prefilledRows > 0)
            {
                throw new ArgumentException("--prefilled-rows and --topology measure different things: run them separately.");
            }

            // The reference is the first contender on one node with classic queues, when that is in the run.
            var reference = topologies.Contains(BenchTopology.Single) ? BenchTopology.Single : topologies[0];
            var placed = contenders.SelectMany(name => topologies.Select(topology => AtTopology(name, topology))).ToList();
            baseline = placed.Contains(baseline) ? baseline : AtTopology(contenders[0], reference);
        }

        // Without the baseline in the run there is nothing measured alongside to compare with, so the first
        // contender becomes the reference rather than a median from another day on another load.
        if (topologies.Count == 0 && !contenders.Contains(baseline))
        {
            baseline = contenders[0];
        }

        // Head-to-head runs three latency phases per round and every level is a full set of rounds, so fewer messages
        // and rounds keep the whole bench/head-to-head.sh near 15–20 minutes here.
        var messageCount = messages ?? (smoke ? 300 : headToHead ? 3000 : 10000);
        return new BenchOptions(
            messageCount,
            // An odd number of rounds makes the median a round that really happened.
            rounds ?? (smoke ? 1 : headToHead ? 3 : 7),
            Math.Clamp(messageCount / 5, 100, 1000),
            contenders,
            baseline,
            smoke,
            headToHead,
            noLatency ? [] : headToHead ? [0.25, 0.5, 0.75] : [0.5],
            inFlightLevels,
            prefilledRows,
            expiredRows,
            topologies);
    }

    /// <summary>The contender whose tables <c>--prefilled-rows</c> fills.</summary>
    public const string PrefilledContender = "eventbackbone-durable";

    private static string Value(IReadOnlyList<string> args, int index, string option) =>
        index < args.Count ? args[index] : throw new ArgumentException($"{option} needs a value.");

    private static int PositiveInt(IReadOnlyList<string> args, int index, string option) =>
        int.TryParse(Value(args, index, option), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{option} needs a positive whole number, not '{args[index]}'.");
}
