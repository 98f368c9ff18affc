namespace EventBackbone.Bench.Harness;

/// <summary>One contender's figures in one round.</summary>
public sealed record RoundResult(
    string Contender,
    int Round,
    double ThroughputPerSecond,
    double OfferedRatePerSecond,
    double LatencyP50Ms,
    double LatencyP99Ms,
    int Lost,
    int Duplicates);

/// <summary>
/// Interleaves the contenders round by round (A1, B1, C1, A2, …) so that a slow spell of this shared, noisy machine
/// lands on every contender rather than on whichever happened to run then.
/// </summary>
public sealed class BenchRunner(BenchOptions options, TextWriter output)
{
    /// <summary>The latency phase offers this fraction of the contender's peak, measured in the same round.</summary>
    public const double LatencyLoadFraction = 0.5;

    public async Task<IReadOnlyList<RoundResult>> RunAsync(
        IReadOnlyList<(IContender Contender, ArrivalRouter Router)> contenders,
        CancellationToken cancellationToken)
    {
        var results = new List<RoundResult>();

        // Round 0 is thrown away: JIT, connection warm-up, queue and table creation and the first fsyncs would
        // otherwise all be charged to whichever contender runs first. Its losses still count.
        for (var round = 0; round <= options.Rounds; round++)
        {
            foreach (var (contender, router) in contenders)
            {
                var result = await RunRoundAsync(contender, router, round, cancellationToken);
                output.WriteLine(Describe(result, round == 0));
                results.Add(result);
            }
        }

        return results;
    }

    private async Task<RoundResult> RunRoundAsync(IContender contender, ArrivalRouter router, int round, CancellationToken cancellationToken)
    {
        var driver = new PhaseDriver(router);
        var messages = round == 0 ? options.WarmupMessages : options.Messages;

        // Collect the previous contender's garbage now, outside every timing, instead of in the middle of this one.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var peak = await driver.RunAsync(contender, messages, ratePerSecond: null, cancellationToken);
        if (!double.IsFinite(peak.ThroughputPerSecond))
        {
            Report(contender, peak);
            return new RoundResult(contender.Name, round, double.NaN, double.NaN, double.NaN, double.NaN, peak.Lost, peak.Duplicates);
        }

        var offered = peak.ThroughputPerSecond * LatencyLoadFraction;
        GC.Collect();
        GC.WaitForPendingFinalizers();

        // Half as many messages at half the rate: the latency phase lasts about as long as the throughput phase.
        var paced = await driver.RunAsync(contender, Math.Max(messages / 2, 50), offered, cancellationToken);
        Report(contender, paced);
        return new RoundResult(
            contender.Name,
            round,
            peak.ThroughputPerSecond,
            offered,
            Statistics.Percentile(paced.LatenciesMs, 50),
            Statistics.Percentile(paced.LatenciesMs, 99),
            peak.Lost + paced.Lost,
            peak.Duplicates + paced.Duplicates);
    }

    private void Report(IContender contender, PhaseOutcome outcome)
    {
        if (outcome.PublishFailures > 0)
        {
            output.WriteLine($"  {contender.Name}: {outcome.PublishFailures} publish(es) failed, first: {outcome.FirstFailure}");
        }

        if (outcome.Lost > 0)
        {
            output.WriteLine($"  {contender.Name}: {outcome.Lost} of {outcome.Sent} message(s) never arrived");
        }
    }

    // InvariantGlobalization is on for every project, so interpolation formats numbers the same on every machine.
    private static string Describe(RoundResult result, bool warmup) =>
        $"{(warmup ? "warm-up" : $"round {result.Round}"),-8} {result.Contender,-24} {result.ThroughputPerSecond,9:F0} msg/s   "
        + $"at {result.OfferedRatePerSecond,7:F0} msg/s: p50 {result.LatencyP50Ms,7:F2} ms  p99 {result.LatencyP99Ms,7:F2} ms"
        + (result.Lost + result.Duplicates > 0 ? $"   LOST {result.Lost} DUPLICATED {result.Duplicates}" : string.Empty);
}
