using System.Globalization;
using System.Text;

namespace EventBackbone.Bench.Harness;

/// <summary>
/// Per contender and figure: min / median / max over the measured rounds, and the median as a multiple of the
/// baseline's median from the same run. Only ratios are comparable across runs on this shared machine.
/// </summary>
public static class ResultTable
{
    private sealed record Figure(string Name, Func<RoundResult, double> Select);

    private static readonly Figure[] Figures =
    [
        new("throughput msg/s", r => r.ThroughputPerSecond),
        new("latency p50 ms", r => r.LatencyP50Ms),
        new("latency p99 ms", r => r.LatencyP99Ms),
    ];

    public static string Render(IReadOnlyList<RoundResult> results, IReadOnlyList<IContender> contenders, string baseline)
    {
        var measured = results.Where(r => r.Round > 0).ToList();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"| contender | in flight | figure | min | median | max | median ÷ {baseline} | lost | duplicated |");
        text.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var contender in contenders)
        {
            var rounds = measured.Where(r => r.Contender == contender.Name).ToList();
            var baselineRounds = measured.Where(r => r.Contender == baseline).ToList();
            var lost = results.Where(r => r.Contender == contender.Name).Sum(r => r.Lost);
            var duplicated = results.Where(r => r.Contender == contender.Name).Sum(r => r.Duplicates);
            foreach (var figure in Figures)
            {
                var values = rounds.Select(figure.Select).Where(double.IsFinite).ToList();
                var median = Statistics.Median(values);
                var ratio = median / Statistics.Median(baselineRounds.Select(figure.Select));
                text.AppendLine(
                    $"| {contender.Name} | {contender.PublishConcurrency} | {figure.Name} | {Format(values.DefaultIfEmpty(double.NaN).Min())} | "
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
