using System.Threading.Channels;
using EventBackbone.DeadLetters.Replay;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// Runs embedded replay jobs in the background, one message at a time in order, as the dead-letter service does:
/// at most <c>ratePerSecond</c> a second, stopping after a canary's first N with <c>canary-complete</c>, stopping at a
/// cancel between two messages; resume continues what has no outcome and what failed.
/// </summary>
internal sealed partial class InMemoryReplayJobs(InMemoryDeadLetterStore store, InMemoryReplayer replayer, TimeProvider clock, ILogger<InMemoryReplayJobs> logger)
    : BackgroundService
{
    private readonly Channel<Guid> _jobs = Channel.CreateUnbounded<Guid>();

    public void Run(Guid jobId) => _jobs.Writer.TryWrite(jobId);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var jobId in _jobs.Reader.ReadAllAsync(stoppingToken))
        {
            try
            {
                await RunAsync(jobId, stoppingToken);
            }
            catch (Exception failure) when (failure is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // A job that breaks must not end this service (and with it the host): it is marked failed, resume retries it.
                LogJobFailed(logger, jobId, failure);
                store.Transaction(s =>
                {
                    var job = s.Jobs[jobId];
                    job.Status = "failed";
                    job.FinishedAt = s.Now;
                    return 0;
                });
            }
        }
    }

    private async Task RunAsync(Guid jobId, CancellationToken stoppingToken)
    {
        var job = store.Transaction(s => s.Jobs[jobId]);
        var interval = job.RatePerSecond is { } rate ? TimeSpan.FromSeconds(1.0 / rate) : TimeSpan.Zero;
        foreach (var item in job.Items)
        {
            var next = store.Transaction<(bool Stop, bool Skip)>(_ =>
            {
                if (job.Status != "running")
                {
                    return (true, false);
                }

                if (job.Canary is { } canary && !job.CanaryReleased && job.Items.Count(x => x.Outcome is not null) >= canary)
                {
                    job.Status = "canary-complete";
                    job.FinishedAt = store.Now;
                    return (true, false);
                }

                return (false, item.Outcome is not null);
            });
            if (next.Stop)
            {
                return;
            }

            if (next.Skip)
            {
                continue;
            }

            var outcome = await replayer.ReplayAsync(item.MessageId, job.RequestedBy, job.Reason, edited: null, jobId, stoppingToken);
            store.Transaction(_ => item.Outcome = ReplayJobRunner.Describe(outcome));
            if (interval > TimeSpan.Zero)
            {
                await Task.Delay(interval, clock, stoppingToken);
            }
        }

        store.Transaction(_ =>
        {
            if (job.Status == "running")
            {
                job.Status = job.Items.Any(x => x.Outcome == "failed") ? "failed" : "completed";
                job.FinishedAt = store.Now;
            }

            return 0;
        });
    }

    [LoggerMessage(LogLevel.Error, "Replay job {JobId} failed; resume runs what it left")]
    private static partial void LogJobFailed(ILogger logger, Guid jobId, Exception failure);
}
