using System.Globalization;
using System.Text;

namespace EventBackbone.Bench.Harness;

/// <summary>
/// Per in-flight level, contender and figure: min / median / max over the measured rounds, and the median as a
/// multiple of the baseline's median at the same level from the same run. Only ratios are comparable across runs on
/// this shared machine.
/// </summary>
public static class ResultTable
{
    private sealed record Figure(string Name, Func<RoundResult, double> Select);

    /// <summary>
    /// The figures of a run: throughput, p50/p99/p99.9 at each latency load (named as before when 50 % is the only
    /// one), then the resources per message and the memory peaks.
    /// </summary>
    private static List<Figure> Figures(IReadOnlyList<double> loads)
    {
        var figures = new List<Figure> { new("throughput msg/s", r => r.ThroughputPerSecond) };
        foreach (var load in loads)
        {
            var suffix = loads.Count == 1 && load == 0.5 ? string.Empty : $" at {load * 100:F0} % of peak";
            figures.Add(new($"latency p50 ms{suffix}", r => At(r, load)?.P50Ms ?? double.NaN));
            figures.Add(new($"latency p99 ms{suffix}", r => At(r, load)?.P99Ms ?? double.NaN));
            figures.Add(new($"latency p99.9 ms{suffix}", r => At(r, load)?.P999Ms ?? double.NaN));
        }

        figures.AddRange(
        [
            new("client CPU µs/msg", r => r.Resources.ClientCpuUsPerMessage),
            new("broker CPU µs/msg", r => r.Resources.BrokerCpuUsPerMessage),
            new("PostgreSQL CPU µs/msg", r => r.Resources.PostgresCpuUsPerMessage),
            new("loopback bytes/msg", r => r.Resources.LoopbackBytesPerMessage),
            new("peak RSS client MiB", r => r.Resources.Memory.ClientMiB),
            new("peak RSS broker MiB", r => r.Resources.Memory.BrokerMiB),
            new("peak RSS PostgreSQL MiB", r => r.Resources.Memory.PostgresMiB),
        ]);
        return figures;
    }

    private static LatencyAtLoad? At(RoundResult result, double load) => result.Loads.FirstOrDefault(l => l.Fraction == load);

    public static string Render(
        IReadOnlyList<RoundResult> results, IReadOnlyList<IContender> contenders, string baseline, IReadOnlyList<double> latencyLoads)
    {
        var measured = results.Where(r => r.Round > 0).ToList();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"| contender | in flight | figure | min | median | max | median ÷ {baseline} | lost | duplicated |");
        text.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (inFlight, contender) in results.Select(r => r.InFlight).Distinct().SelectMany(level => contenders.Select(c => (level, c))))
        {
            var rounds = measured.Where(r => r.Contender == contender.Name && r.InFlight == inFlight).ToList();
            // The baseline at the same level: a ratio across levels would mix the setting into the comparison.
            var baselineRounds = measured.Where(r => r.Contender == baseline && r.InFlight == inFlight).ToList();
            var all = results.Where(r => r.Contender == contender.Name && r.InFlight == inFlight).ToList();
            var lost = all.Sum(r => r.Lost);
            var duplicated = all.Sum(r => r.Duplicates);
            foreach (var figure in Figures(latencyLoads))
            {
                var values = rounds.Select(figure.Select).Where(double.IsFinite).ToList();
                var median = Statistics.Median(values);
                var ratio = median / Statistics.Median(baselineRounds.Select(figure.Select));
                text.AppendLine(
                    $"| {contender.Name} | {inFlight} | {figure.Name} | {Format(values.DefaultIfEmpty(double.NaN).Min())} | "
                    + $"{Format(median)} | {Format(values.DefaultIfEmpty(double.NaN).Max())} | {(double.IsFinite(ratio) ? ratio.ToString("F2", CultureInfo.InvariantCulture) + "×" : "–")} | "
                    + $"{lost} | {duplicated} |");
            }
        }

        return text.ToString();
    }

    private static string Format(double value) => !double.IsFinite(value)
        ? "–"
        : value >= 100 ? value.ToString("F0", CultureInfo.InvariantCulture) : value.ToString("F2", CultureInfo.InvariantCulture);
}
