namespace EventBackbone.Bench.Harness;

/// <summary>Latency of one open-loop phase offered at <see cref="Fraction"/> of the round's peak.</summary>
public sealed record LatencyAtLoad(double Fraction, double OfferedRatePerSecond, double P50Ms, double P99Ms, double P999Ms);

/// <summary>
/// What the throughput phase cost per message: CPU of this process, of the broker and of PostgreSQL (µs), and bytes
/// sent over the loopback interface (broker and database traffic alike); plus the peak resident memory of each while
/// the contender ran its phases (MiB). NaN where not measurable.
/// </summary>
public sealed record ResourceUse(
    double ClientCpuUsPerMessage,
    double BrokerCpuUsPerMessage,
    double PostgresCpuUsPerMessage,
    double LoopbackBytesPerMessage,
    MemoryPeaks Memory)
{
    public static readonly ResourceUse None = new(double.NaN, double.NaN, double.NaN, double.NaN, new MemoryPeaks(double.NaN, double.NaN, double.NaN));
}

/// <summary>One contender's figures in one round at one in-flight level. The 50 % load's p50/p99 keep their own fields.</summary>
public sealed record RoundResult(
    string Contender,
    int InFlight,
    int Round,
    double ThroughputPerSecond,
    double OfferedRatePerSecond,
    double LatencyP50Ms,
    double LatencyP99Ms,
    int Lost,
    int Duplicates,
    IReadOnlyList<LatencyAtLoad> Loads,
    ResourceUse Resources);

/// <summary>
/// Interleaves the contenders round by round (A1, B1, C1, A2, …) so that a slow spell of this shared, noisy machine
/// lands on every contender rather than on whichever happened to run then; each in-flight level is a full set of such
/// rounds, warm-up included, with every contender at that level.
/// </summary>
/// <param name="meterFor">
/// The meter of the servers a contender runs on: under <c>--topology</c> a contender on the cluster is charged the CPU of
/// the cluster's three nodes, not the single node's.
/// </param>
public sealed class BenchRunner(BenchOptions options, Func<IContender, ResourceMeter> meterFor, TextWriter output)
{
    /// <summary>Resident memory is sampled this often while a contender runs its phases.</summary>
    private static readonly TimeSpan MemorySampleInterval = TimeSpan.FromMilliseconds(50);

    public async Task<IReadOnlyList<RoundResult>> RunAsync(
        IReadOnlyList<(IContender Contender, ArrivalRouter Router)> contenders,
        CancellationToken cancellationToken)
    {
        var results = new List<RoundResult>();
        foreach (var inFlight in options.InFlightLevels)
        {
            output.WriteLine($"--- {inFlight} messages in flight, every contender");

            // Round 0 is thrown away: JIT, connection warm-up, queue and table creation and the first fsyncs (and,
            // at a new level, pools growing to it) would otherwise be charged to whichever contender runs first.
            // Its losses still count.
            for (var round = 0; round <= options.Rounds; round++)
            {
                foreach (var (contender, router) in contenders)
                {
                    var result = await RunRoundAsync(contender, router, inFlight, round, cancellationToken);
                    output.WriteLine(Describe(result, round == 0));
                    if (options.HeadToHead || options.Topologies.Count > 0)
                    {
                        output.WriteLine(DescribeMore(result));
                    }

                    results.Add(result);
                }
            }
        }

        return results;
    }

    private async Task<RoundResult> RunRoundAsync(
        IContender contender, ArrivalRouter router, int inFlight, int round, CancellationToken cancellationToken)
    {
        var driver = new PhaseDriver(router);
        var messages = round == 0 ? options.WarmupMessages : options.Messages;
        var meter = meterFor(contender);

        // Collect the previous contender's garbage now, outside every timing, instead of in the middle of this one.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var sampler = meter.StartSampling(MemorySampleInterval);
        await using (sampler)
        {
            var before = meter.Take();
            var stallTimeout = round == 0 ? PhaseDriver.WarmUpStallTimeout : PhaseDriver.StallTimeout;
            var peak = await driver.RunAsync(contender, messages, inFlight, ratePerSecond: null, cancellationToken, stallTimeout);
            var after = meter.Take();
            if (!double.IsFinite(peak.ThroughputPerSecond))
            {
                Report(contender, peak);
                return new RoundResult(
                    contender.Name, inFlight, round, double.NaN, double.NaN, double.NaN, double.NaN, peak.Lost, peak.Duplicates, [], ResourceUse.None);
            }

            var loads = new List<LatencyAtLoad>();
            var lost = peak.Lost;
            var duplicates = peak.Duplicates;
            foreach (var fraction in options.LatencyLoads)
            {
                var offered = peak.ThroughputPerSecond * fraction;
                GC.Collect();
                GC.WaitForPendingFinalizers();

                // N × fraction messages at that fraction of the peak rate: every latency phase lasts about as long as
                // the throughput phase (at 50 %, half as many messages at half the rate, as before).
                var paced = await driver.RunAsync(
                    contender, Math.Max((int)(messages * fraction), 50), inFlight, offered, cancellationToken, stallTimeout);
                Report(contender, paced);
                lost += paced.Lost;
                duplicates += paced.Duplicates;
                loads.Add(new LatencyAtLoad(
                    fraction,
                    offered,
                    Statistics.Percentile(paced.LatenciesMs, 50),
                    Statistics.Percentile(paced.LatenciesMs, 99),
                    Statistics.Percentile(paced.LatenciesMs, 99.9)));
            }

            var half = loads.FirstOrDefault(l => l.Fraction == 0.5);
            return new RoundResult(
                contender.Name,
                inFlight,
                round,
                peak.ThroughputPerSecond,
                half?.OfferedRatePerSecond ?? double.NaN,
                half?.P50Ms ?? double.NaN,
                half?.P99Ms ?? double.NaN,
                lost,
                duplicates,
                loads,
                new ResourceUse(
                    (after.ClientCpuMs - before.ClientCpuMs) * 1000 / messages,
                    (after.BrokerCpuMs - before.BrokerCpuMs) * 1000 / messages,
                    (after.PostgresCpuMs - before.PostgresCpuMs) * 1000 / messages,
                    before.LoopbackTxBytes < 0 ? double.NaN : (after.LoopbackTxBytes - before.LoopbackTxBytes) / (double)messages,
                    sampler.Peaks));
        }
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
        $"{(warmup ? "warm-up" : $"round {result.Round}"),-8} {result.Contender,-24} {result.InFlight,4} in flight {result.ThroughputPerSecond,9:F0} msg/s   "
        + (result.Loads.Count == 0
            ? string.Empty
            : $"at {result.OfferedRatePerSecond,7:F0} msg/s: p50 {result.LatencyP50Ms,7:F2} ms  p99 {result.LatencyP99Ms,7:F2} ms")
        + (result.Lost + result.Duplicates > 0 ? $"   LOST {result.Lost} DUPLICATED {result.Duplicates}" : string.Empty);

    private static string DescribeMore(RoundResult result) =>
        $"{string.Empty,-8} {string.Empty,-24} {string.Empty,14}"
        + string.Join("  ", result.Loads.Select(l => $"{l.Fraction * 100:F0} %: p50 {l.P50Ms:F2} p99 {l.P99Ms:F2} p99.9 {l.P999Ms:F2} ms"))
        + $"  | CPU µs/msg client {result.Resources.ClientCpuUsPerMessage:F0} broker {result.Resources.BrokerCpuUsPerMessage:F0} "
        + $"PostgreSQL {result.Resources.PostgresCpuUsPerMessage:F0} | lo {result.Resources.LoopbackBytesPerMessage:F0} B/msg "
        + $"| peak MiB client {result.Resources.Memory.ClientMiB:F0} broker {result.Resources.Memory.BrokerMiB:F0} "
        + $"PostgreSQL {result.Resources.Memory.PostgresMiB:F0}";
}
