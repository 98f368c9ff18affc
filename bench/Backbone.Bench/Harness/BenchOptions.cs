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
    IReadOnlyList<double> LatencyLoads)
{
    /// <summary>Issue #8's comparison: the broker ceiling, the no-framework baseline, Wolverine and us, against us.</summary>
    public static readonly IReadOnlyList<string> HeadToHeadContenders =
        ["raw-rabbitmq", "raw-rabbitmq-outbox", "wolverine-durable", "eventbackbone-durable"];

    public const string HeadToHeadBaseline = "eventbackbone-durable";

    public const string Usage = """
        Usage: dotnet run -c Release --project bench/Backbone.Bench -- [options]
          --messages N        messages per throughput phase (default 10000; the latency phase sends N/2)
          --rounds R          interleaved rounds per contender (default 7)
          --contenders a,b    which contenders, in this order (default: raw-rabbitmq, masstransit-nondurable,
                              raw-rabbitmq-outbox, eventbackbone-durable; also wolverine-durable, wolverine-durable-confirms)
          --baseline name     contender the ratios are taken against (default masstransit-nondurable)
          --head-to-head      issue #8: raw-rabbitmq, raw-rabbitmq-outbox, wolverine-durable, eventbackbone-durable,
                              ratios to eventbackbone-durable, latency at 25/50/75 % of each contender's peak;
                              defaults 5000 messages × 5 rounds (--contenders/--baseline/--messages/--rounds still apply)
          --smoke             300 messages, 1 round: checks that nothing is lost or duplicated
        """;

    /// <summary>Reads the command line; a malformed one throws <see cref="ArgumentException"/> with the reason.</summary>
    public static BenchOptions Parse(
        IReadOnlyList<string> args, IReadOnlyList<string> known, IReadOnlyList<string> defaults, string defaultBaseline)
    {
        int? messages = null;
        int? rounds = null;
        var smoke = false;
        var headToHead = false;
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

        contenders ??= headToHead ? HeadToHeadContenders : defaults;
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

        // Without the baseline in the run there is nothing measured alongside to compare with, so the first
        // contender becomes the reference rather than a median from another day on another load.
        if (!contenders.Contains(baseline))
        {
            baseline = contenders[0];
        }

        // Head-to-head runs three latency phases per round, so fewer messages and rounds keep it near 15 minutes here.
        var messageCount = messages ?? (smoke ? 300 : headToHead ? 5000 : 10000);
        return new BenchOptions(
            messageCount,
            // An odd number of rounds makes the median a round that really happened.
            rounds ?? (smoke ? 1 : headToHead ? 5 : 7),
            Math.Clamp(messageCount / 5, 100, 1000),
            contenders,
            baseline,
            smoke,
            headToHead,
            headToHead ? [0.25, 0.5, 0.75] : [0.5]);
    }

    private static string Value(IReadOnlyList<string> args, int index, string option) =>
        index < args.Count ? args[index] : throw new ArgumentException($"{option} needs a value.");

    private static int PositiveInt(IReadOnlyList<string> args, int index, string option) =>
        int.TryParse(Value(args, index, option), NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new ArgumentException($"{option} needs a positive whole number, not '{args[index]}'.");
}
