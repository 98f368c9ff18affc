using System.Threading.Channels;
using EventBackbone.DeadLetters.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.DeadLetters.Replay;

/// <summary>A replay job's progress, as the operators' API and the CLI show it.</summary>
public sealed record ReplayJobStatus(
    Guid JobId, string Status, int Total, int Replayed, int AlreadyReplayed, int NotFound, int Failed, string RequestedBy, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt);

/// <summary>
/// Runs replay jobs one message at a time in the background, recording each outcome as it goes. On start it first
/// settles what a crashed run left in doubt, then resumes every job still running: the items without an outcome are
/// replayed, and the ledger keeps anything the crashed run had confirmed from going out again.
/// </summary>
public sealed partial class ReplayJobRunner(
    IServiceScopeFactory scopes, NpgsqlDataSource dataSource, DeadLetterReplayer replayer, TimeProvider clock, ILogger<ReplayJobRunner> logger) : BackgroundService
{
    /// <summary>How often the journal is drained when no job runs, so it stays short.</summary>
    private static readonly TimeSpan JournalDrainInterval = TimeSpan.FromMinutes(1);

    private readonly Channel<Guid> _jobs = Channel.CreateUnbounded<Guid>();

    public async Task<ReplayJobStatus> StartJobAsync(IReadOnlyList<Guid> messageIds, string actor, string? reason, string selection, CancellationToken cancellationToken)
    {
        var job = new ReplayJob { Id = Guid.NewGuid(), RequestedBy = actor, Reason = reason, Selection = selection, Status = "running", CreatedAt = clock.GetUtcNow() };
        job.Items.AddRange(messageIds.Distinct().Select((id, position) => new ReplayJobItem { JobId = job.Id, MessageId = id, Position = position }));
        using (var scope = scopes.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<DeadLettersDbContext>();
            db.ReplayJobs.Add(job);
            db.Audit.Add(new AuditEntry { At = job.CreatedAt, Actor = actor, Action = "replay-job", Detail = $"{job.Id}: {selection} ({job.Items.Count} messages); {reason}" });
            await db.SaveChangesAsync(cancellationToken);
        }

        _jobs.Writer.TryWrite(job.Id);
        return (await StatusAsync(job.Id, cancellationToken))!;
    }

    /// <summary>Runs a job again: what has no outcome, and what failed (e.g. while the broker was down).</summary>
    public async Task<ReplayJobStatus?> ResumeAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH job AS (UPDATE replay_jobs SET status = 'running', finished_at = NULL WHERE id = $1 RETURNING id)
            UPDATE replay_job_items SET outcome = NULL WHERE job_id = (SELECT id FROM job) AND outcome = 'failed'
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await command.ExecuteNonQueryAsync(cancellationToken);
        var status = await StatusAsync(jobId, cancellationToken);
        if (status is not null)
        {
            _jobs.Writer.TryWrite(jobId);
        }

        return status;
    }

    public async Task<ReplayJobStatus?> StatusAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT j.status, j.requested_by, j.created_at, j.finished_at, count(i.message_id),
                   count(*) FILTER (WHERE i.outcome = 'replayed'), count(*) FILTER (WHERE i.outcome = 'already-replayed'),
                   count(*) FILTER (WHERE i.outcome = 'not-found'), count(*) FILTER (WHERE i.outcome = 'failed')
            FROM replay_jobs j LEFT JOIN replay_job_items i ON i.job_id = j.id
            WHERE j.id = $1 GROUP BY j.id
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ReplayJobStatus(
                jobId, reader.GetString(0), (int)reader.GetInt64(4), (int)reader.GetInt64(5), (int)reader.GetInt64(6), (int)reader.GetInt64(7), (int)reader.GetInt64(8),
                reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3))
            : null;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await replayer.ResolveInDoubtAsync(stoppingToken);
                await foreach (var jobId in RunningJobsAsync(stoppingToken))
                {
                    _jobs.Writer.TryWrite(jobId);
                }

                while (!stoppingToken.IsCancellationRequested)
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    idle.CancelAfter(JournalDrainInterval);
                    try
                    {
                        await RunAsync(await _jobs.Reader.ReadAsync(idle.Token), stoppingToken);
                        // Every replay left a copy in the journal: drained after each job, so it stays short.
                        await replayer.ResolveInDoubtAsync(stoppingToken);
                    }
                    catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                    {
                        await replayer.ResolveInDoubtAsync(stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception outage)
            {
                // The broker or the database is away: the jobs stay "running" and are picked up again from the start.
                LogOutage(logger, outage.Message);
                await Task.Delay(TimeSpan.FromSeconds(5), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task RunAsync(Guid jobId, CancellationToken stoppingToken)
    {
        var (actor, reason) = await JobAsync(jobId, stoppingToken);
        var todo = await OpenItemsAsync(jobId, stoppingToken);
        foreach (var messageId in todo)
        {
            var outcome = await replayer.ReplayAsync(messageId, actor, reason, edited: null, jobId, stoppingToken);
            if (outcome == ReplayOutcome.Replayed)
            {
                // Recorded by the replayer in the same commit as the ledger's confirmation.
                continue;
            }

            await using var record = dataSource.CreateCommand("UPDATE replay_job_items SET outcome = $3 WHERE job_id = $1 AND message_id = $2");
            record.Parameters.Add(new NpgsqlParameter { Value = jobId });
            record.Parameters.Add(new NpgsqlParameter { Value = messageId });
            record.Parameters.Add(new NpgsqlParameter { Value = Describe(outcome) });
            await record.ExecuteNonQueryAsync(stoppingToken);
        }

        await using var finish = dataSource.CreateCommand(
            "UPDATE replay_jobs SET status = 'completed', finished_at = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM replay_job_items WHERE job_id = $1 AND outcome IS NULL)");
        finish.Parameters.Add(new NpgsqlParameter { Value = jobId });
        finish.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        await finish.ExecuteNonQueryAsync(stoppingToken);
        LogJobRun(logger, jobId, todo.Count);
    }

    public static string Describe(ReplayOutcome outcome) => outcome switch
    {
        ReplayOutcome.Replayed => "replayed",
        ReplayOutcome.AlreadyReplayed => "already-replayed",
        ReplayOutcome.NotFound => "not-found",
        _ => "failed",
    };

    private async Task<(string Actor, string? Reason)> JobAsync(Guid jobId, CancellationToken cancellationToken)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<DeadLettersDbContext>();
        var job = await db.ReplayJobs.AsNoTracking().SingleAsync(x => x.Id == jobId, cancellationToken);
        return (job.RequestedBy, job.Reason);
    }

    private async Task<List<Guid>> OpenItemsAsync(Guid jobId, CancellationToken cancellationToken)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<DeadLettersDbContext>();
        return await db.Set<ReplayJobItem>().Where(x => x.JobId == jobId && x.Outcome == null).OrderBy(x => x.Position).Select(x => x.MessageId)
            .ToListAsync(cancellationToken);
    }

    private async IAsyncEnumerable<Guid> RunningJobsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<DeadLettersDbContext>();
        foreach (var id in await db.ReplayJobs.Where(x => x.Status == "running").OrderBy(x => x.CreatedAt).Select(x => x.Id).ToListAsync(cancellationToken))
        {
            yield return id;
        }
    }

    [LoggerMessage(LogLevel.Information, "Replay job {JobId} ran {Count} message(s)")]
    private static partial void LogJobRun(ILogger logger, Guid jobId, int count);

    [LoggerMessage(LogLevel.Warning, "Replay jobs paused ({Reason}); resuming shortly")]
    private static partial void LogOutage(ILogger logger, string reason);
}
