using System.Diagnostics;

namespace EventBackbone.Bench.Harness;

/// <summary>What one phase measured.</summary>
/// <param name="Sent">Messages the harness asked the contender to publish.</param>
/// <param name="Arrived">Distinct messages whose effect was reported.</param>
/// <param name="Duplicates">Effects reported more than once for the same message.</param>
/// <param name="PublishFailures">PublishAsync calls that threw.</param>
/// <param name="ThroughputPerSecond">Sent ÷ (last arrival − first publish); NaN when a message is missing.</param>
/// <param name="LatenciesMs">Sorted send-to-effect latencies of the messages that arrived.</param>
public sealed record PhaseOutcome(
    int Sent,
    int Arrived,
    int Duplicates,
    int PublishFailures,
    string? FirstFailure,
    double ThroughputPerSecond,
    double[] LatenciesMs)
{
    public int Lost => Sent - Arrived;
}

/// <summary>Runs one phase against one contender: a closed-loop burst (rate null) or an open-loop paced stream.</summary>
public sealed class PhaseDriver(ArrivalRouter router)
{
    /// <summary>
    /// A phase waits this long without a single new arrival before it declares the rest lost. Progress-based rather
    /// than a total deadline, so a slow contender is not cut off while a stalled one still fails smoke mode quickly.
    /// </summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The same for every phase of a contender's warm-up round, where its first messages wait on start-up work:
    /// Wolverine generates and compiles its handler code with Roslyn on first use, and at load average 40 a smoke run
    /// saw all 100 warm-up messages arrive after 10 s — reported as lost, then as strays — and, with only the warm-up
    /// throughput phase given longer, gaps of over 10 s in the warm-up's paced phases next.
    /// </summary>
    public static readonly TimeSpan WarmUpStallTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// After the last expected arrival the phase stays open this long, so a duplicate delivered right behind the
    /// original is counted as a duplicate of this phase instead of slipping past as nothing.
    /// </summary>
    private static readonly TimeSpan DuplicateWindow = TimeSpan.FromMilliseconds(300);

    /// <param name="inFlightLevel">
    /// Publishes outstanding at once: the run's setting, the same for every contender, since it bounds the outstanding
    /// publisher confirms or open transactions and so is part of what is measured.
    /// </param>
    public async Task<PhaseOutcome> RunAsync(
        IContender contender, int count, int inFlightLevel, double? ratePerSecond, CancellationToken cancellationToken,
        TimeSpan? stallTimeout = null)
    {
        var log = router.Open(count);
        using var inFlight = new SemaphoreSlim(inFlightLevel);
        var publishes = new List<Task>(count);
        var failures = 0;
        string? firstFailure = null;

        async Task PublishOneAsync(BenchMessage message)
        {
            try
            {
                await contender.PublishAsync(message, cancellationToken);
            }
            catch (Exception failure) when (failure is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (Interlocked.Increment(ref failures) == 1)
                {
                    firstFailure = $"{failure.GetType().Name}: {failure.Message}";
                }
            }
            finally
            {
                inFlight.Release();
            }
        }

        var start = Stopwatch.GetTimestamp();
        var ticksPerMessage = ratePerSecond is { } rate ? Stopwatch.Frequency / rate : 0;
        for (var sequence = 0; sequence < count; sequence++)
        {
            long sentAt;
            if (ratePerSecond is null)
            {
                await inFlight.WaitAsync(cancellationToken);
                sentAt = Stopwatch.GetTimestamp();
            }
            else
            {
                // Open loop: message i is due at start + i/rate whatever happened to earlier ones. Its timestamp is
                // that due time, not the moment it got out: if the contender's back-pressure (or the in-flight bound)
                // holds the sender up, the wait shows in the latency instead of silently lowering the offered rate
                // (coordinated omission).
                sentAt = start + (long)(sequence * ticksPerMessage);
                while (Stopwatch.GetTimestamp() < sentAt)
                {
                    // ~1 ms timer granularity: messages go out in small bursts, each at or after its due time. A
                    // spin would be more exact but would take a core from the broker on this two-core machine.
                    await Task.Delay(1, cancellationToken);
                }

                await inFlight.WaitAsync(cancellationToken);
            }

            publishes.Add(PublishOneAsync(new BenchMessage(Guid.NewGuid(), log.PhaseId, sequence, sentAt)));
        }

        await Task.WhenAll(publishes);
        await WaitForArrivalsAsync(log, stallTimeout ?? StallTimeout, cancellationToken);
        if (log.Unique == count)
        {
            await Task.Delay(DuplicateWindow, cancellationToken);
        }

        router.Close();

        var arrived = log.Unique;
        var elapsedSeconds = (log.LastArrival - start) / (double)Stopwatch.Frequency;
        return new PhaseOutcome(
            count,
            arrived,
            log.Duplicates,
            failures,
            firstFailure,
            arrived == count && elapsedSeconds > 0 ? count / elapsedSeconds : double.NaN,
            log.SortedLatenciesMs());
    }

    private static async Task WaitForArrivalsAsync(PhaseLog log, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var seen = -1;
        var lastProgress = Stopwatch.GetTimestamp();
        while (!log.Complete.IsCompleted)
        {
            var unique = log.Unique;
            if (unique != seen)
            {
                seen = unique;
                lastProgress = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) > stallTimeout)
            {
                return;
            }

            await Task.WhenAny(log.Complete, Task.Delay(100, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }
}
