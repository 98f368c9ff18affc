using System.Threading.Channels;
using EventBackbone.DeadLetters.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client.Exceptions;

namespace EventBackbone.DeadLetters.Replay;

/// <summary>A replay job's progress, as the operators' API and the CLI show it.</summary>
/// <param name="Status">
/// <c>running</c>, <c>completed</c>, <c>failed</c> (finished with at least one failed item, or stopped because the broker
/// could not be reached — its rest then pending), <c>cancelled</c> or <c>canary-complete</c>.
/// </param>
/// <param name="Pending">Items without an outcome yet (a cancelled or canary-complete job's rest; resume runs them).</param>
/// <param name="Percent">How much of the job has an outcome, 0 to 100.</param>
public sealed record ReplayJobStatus(
    Guid JobId, string Status, int Total, int Replayed, int AlreadyReplayed, int NotFound, int Failed, int Pending, string RequestedBy, string? Reason,
    string Selection, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, int? Canary, int? RatePerSecond, int Percent);

public sealed record ReplayJobItemView(Guid MessageId, int Position, string? Outcome);

public sealed record ReplayJobPage(IReadOnlyList<ReplayJobStatus> Items, string? Next);

public sealed record ReplayJobItemPage(IReadOnlyList<ReplayJobItemView> Items, string? Next);

/// <param name="Canary">Replay the first this many, then stop as <c>canary-complete</c>.</param>
/// <param name="RatePerSecond">At most this many replays a second; null for unthrottled.</param>
/// <param name="IdempotencyKey">The same key from the same caller within <see cref="ReplayJobRunner.IdempotencyWindow"/> returns the job it started.</param>
public sealed record ReplayJobRequest(IReadOnlyList<Guid> MessageIds, string Actor, string? Reason, string Selection, int? Canary, int? RatePerSecond, string? IdempotencyKey);

/// <summary>
/// Runs replay jobs one message at a time in the background, recording each outcome as it goes. On start it first
/// settles what a crashed run left in doubt, then resumes every job still running: the items without an outcome are
/// replayed, and the ledger keeps anything the crashed run had confirmed from going out again.
/// </summary>
public sealed partial class ReplayJobRunner(
    IServiceScopeFactory scopes, NpgsqlDataSource dataSource, DeadLetterReplayer replayer, TimeProvider clock, ILogger<ReplayJobRunner> logger) : BackgroundService
{
    public static readonly string[] Statuses = ["running", "completed", "failed", "cancelled", "canary-complete"];

    /// <summary>How long an idempotency key names its job: long enough for any retry, short enough to reuse a key.</summary>
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);

    /// <summary>How often the journal is drained when no job runs, so it stays short.</summary>
    private static readonly TimeSpan JournalDrainInterval = TimeSpan.FromMinutes(1);

    private const string StatusColumns = """
        SELECT j.id, j.status, j.requested_by, j.created_at, j.finished_at, j.reason, j.selection, j.canary, j.rate_per_second,
               count(i.message_id), count(*) FILTER (WHERE i.outcome = 'replayed'), count(*) FILTER (WHERE i.outcome = 'already-replayed'),
               count(*) FILTER (WHERE i.outcome = 'not-found'), count(*) FILTER (WHERE i.outcome = 'failed'),
               count(i.message_id) FILTER (WHERE i.outcome IS NULL)
        FROM replay_jobs j LEFT JOIN replay_job_items i ON i.job_id = j.id
        """;

    private readonly Channel<Guid> _jobs = Channel.CreateUnbounded<Guid>();

    /// <returns>The job, and whether this call created it (false: the idempotency key named an existing one).</returns>
    /// <summary>
    /// The job this caller's key started within <see cref="IdempotencyWindow"/>, if any. Asked before the selection is
    /// resolved: a resubmitted group replay whose first submission already replayed the group selects nothing, and was
    /// refused 422 instead of being shown its job.
    /// </summary>
    public async Task<ReplayJobStatus?> JobOfKeyAsync(string actor, string key, CancellationToken cancellationToken)
    {
        // A key past its window is freed, so the unique index only ever guards keys still in force.
        await using var expire = dataSource.CreateCommand(
            "UPDATE replay_jobs SET idempotency_key = NULL WHERE requested_by = $1 AND idempotency_key = $2 AND created_at < $3");
        expire.Parameters.Add(new NpgsqlParameter { Value = actor });
        expire.Parameters.Add(new NpgsqlParameter { Value = key });
        expire.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() - IdempotencyWindow });
        await expire.ExecuteNonQueryAsync(cancellationToken);
        return await KeyedJobAsync(actor, key, cancellationToken);
    }

    public async Task<(ReplayJobStatus Status, bool Created)> StartJobAsync(ReplayJobRequest request, CancellationToken cancellationToken)
    {
        if (request.IdempotencyKey is { } key && await JobOfKeyAsync(request.Actor, key, cancellationToken) is { } existing)
        {
            return (existing, false);
        }

        var job = new ReplayJob
        {
            Id = Guid.NewGuid(),
            RequestedBy = request.Actor,
            Reason = request.Reason,
            Selection = request.Selection,
            Status = "running",
            CreatedAt = clock.GetUtcNow(),
            Canary = request.Canary,
            RatePerSecond = request.RatePerSecond,
            IdempotencyKey = request.IdempotencyKey,
        };
        job.Items.AddRange(request.MessageIds.Distinct().Select((id, position) => new ReplayJobItem { JobId = job.Id, MessageId = id, Position = position }));
        using (var scope = scopes.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<DeadLettersDbContext>();
            db.ReplayJobs.Add(job);
            db.Audit.Add(new AuditEntry { At = job.CreatedAt, Actor = request.Actor, Action = "replay-job", Detail = $"{job.Id}: {request.Selection} ({job.Items.Count} messages); {request.Reason}" });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException duplicate) when (request.IdempotencyKey is not null
                && duplicate.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                // The other click of a double click won the race: its job is this request's job.
                return (await KeyedJobAsync(request.Actor, request.IdempotencyKey, cancellationToken) ?? throw new InvalidOperationException(
                    "The idempotency key's job was neither found nor created.", duplicate), false);
            }
        }

        _jobs.Writer.TryWrite(job.Id);
        return ((await StatusAsync(job.Id, cancellationToken))!, true);
    }

    private async Task<ReplayJobStatus?> KeyedJobAsync(string actor, string key, CancellationToken cancellationToken) =>
        (await QueryAsync("WHERE j.requested_by = $1 AND j.idempotency_key = $2", [actor, key], 1, cancellationToken)).SingleOrDefault();

    /// <summary>
    /// Runs a job again: what has no outcome, and what failed (e.g. while the broker was down) — after a cancel, after
    /// its canary (the rest then runs through), or after a failure. Audited in the same statement.
    /// </summary>
    public async Task<ReplayJobStatus?> ResumeAsync(Guid jobId, string actor, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH job AS (
                UPDATE replay_jobs SET status = 'running', finished_at = NULL, canary_passed = canary_passed OR status = 'canary-complete'
                WHERE id = $1 RETURNING id),
            retry AS (
                UPDATE replay_job_items SET outcome = NULL WHERE job_id = (SELECT id FROM job) AND outcome = 'failed')
            INSERT INTO dead_letter_audit (at, actor, action, detail) SELECT $2, $3, 'replay-resume', id::text FROM job
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = actor });
        await command.ExecuteNonQueryAsync(cancellationToken);
        var status = await StatusAsync(jobId, cancellationToken);
        if (status is not null)
        {
            _jobs.Writer.TryWrite(jobId);
        }

        return status;
    }

    /// <summary>Stops a running job after the message being replayed; its other items keep no outcome, for resume. Audited in the same statement.</summary>
    /// <returns>The job's status, or null when there is no such job; <c>Cancelled</c> false when it was not running.</returns>
    public async Task<(ReplayJobStatus? Status, bool Cancelled)> CancelAsync(Guid jobId, string actor, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH cancelled AS (
                UPDATE replay_jobs SET status = 'cancelled', finished_at = $2 WHERE id = $1 AND status = 'running' RETURNING id)
            INSERT INTO dead_letter_audit (at, actor, action, detail) SELECT $2, $3, 'replay-cancel', id::text FROM cancelled
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter { Value = actor });
        var cancelled = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        return (await StatusAsync(jobId, cancellationToken), cancelled);
    }

    public async Task<ReplayJobStatus?> StatusAsync(Guid jobId, CancellationToken cancellationToken) =>
        (await QueryAsync("WHERE j.id = $1", [jobId], 1, cancellationToken)).SingleOrDefault();

    /// <summary>Newest first, keyset on (created, id) after <paramref name="after"/>.</summary>
    public async Task<List<ReplayJobStatus>> ListAsync(string? status, (DateTimeOffset At, Guid Id)? after, int limit, CancellationToken cancellationToken)
    {
        var conditions = new List<string>();
        var values = new List<object>();
        if (status is not null)
        {
            values.Add(status);
            conditions.Add($"j.status = ${values.Count}");
        }

        if (after is var (at, id))
        {
            values.Add(at);
            values.Add(id);
            conditions.Add($"(j.created_at, j.id) < (${values.Count - 1}, ${values.Count})");
        }

        return await QueryAsync(conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions), values, limit, cancellationToken);
    }

    /// <summary>The job's messages in replay order after position <paramref name="after"/>; null when there is no such job.</summary>
    public async Task<List<ReplayJobItemView>?> ItemsAsync(Guid jobId, int after, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT i.message_id, i.position, i.outcome FROM replay_jobs j LEFT JOIN replay_job_items i ON i.job_id = j.id AND i.position > $2
            WHERE j.id = $1 ORDER BY i.position LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = after });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        List<ReplayJobItemView>? items = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            items ??= [];
            if (!reader.IsDBNull(0))
            {
                items.Add(new ReplayJobItemView(reader.GetGuid(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            }
        }

        return items;
    }

    private async Task<List<ReplayJobStatus>> QueryAsync(string where, IReadOnlyList<object> values, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{StatusColumns} {where} GROUP BY j.id ORDER BY j.created_at DESC, j.id DESC LIMIT {limit.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var jobs = new List<ReplayJobStatus>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var total = (int)reader.GetInt64(9);
            var pending = (int)reader.GetInt64(14);
            jobs.Add(new ReplayJobStatus(
                reader.GetGuid(0), reader.GetString(1), total, (int)reader.GetInt64(10), (int)reader.GetInt64(11), (int)reader.GetInt64(12), (int)reader.GetInt64(13), pending,
                reader.GetString(2), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(7) ? null : reader.GetInt32(7), reader.IsDBNull(8) ? null : reader.GetInt32(8),
                total == 0 ? 100 : (total - pending) * 100 / total));
        }

        return jobs;
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
            catch (BrokerUnreachableException unreachable)
            {
                // No job can send anything: they fail now, visibly, and the operator resumes them once the broker is
                // back. Left "running", they showed 0 % for as long as the outage lasted, then went out unannounced.
                LogOutage(logger, unreachable.Message);
                await FailRunningJobsAsync(stoppingToken);
                await Task.Delay(TimeSpan.FromSeconds(5), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            catch (Exception outage)
            {
                // A dropped connection (opened again on the next attempt) or the database away: the jobs stay
                // "running" and are picked up again from the start.
                LogOutage(logger, outage.Message);
                await Task.Delay(TimeSpan.FromSeconds(5), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task RunAsync(Guid jobId, CancellationToken stoppingToken)
    {
        var job = await JobAsync(jobId, stoppingToken);
        if (job.Status != "running")
        {
            return;
        }

        var todo = await OpenItemsAsync(jobId, stoppingToken);
        var done = job.Items - todo.Count;
        var ran = 0;
        foreach (var messageId in todo)
        {
            if (job.Canary is { } canary && !job.CanaryPassed && done >= canary)
            {
                // The canary's messages have their outcome: stop, so the operator looks at them before the rest goes.
                await SetFinishedAsync(jobId, "'canary-complete'", stoppingToken, evenWithItemsLeft: true);
                LogJobRun(logger, jobId, ran);
                return;
            }

            if (ran > 0 && job.RatePerSecond is { } rate)
            {
                // Paced on the injected clock: a slow consumer downstream gets at most this many a second.
                await Task.Delay(TimeSpan.FromSeconds(1.0 / rate), clock, stoppingToken);
            }

            // Asked again before each message, so a cancel (from any instance) stops the job within one message.
            if (await CurrentStatusAsync(jobId, stoppingToken) != "running")
            {
                LogJobRun(logger, jobId, ran);
                return;
            }

            var outcome = await replayer.ReplayAsync(messageId, job.Actor, job.Reason, edited: null, jobId, stoppingToken);
            ran++;
            done++;
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
            if (outcome == ReplayOutcome.BrokerUnreachable)
            {
                // Every message after this one would fail the same way: stop, the rest pending for a resume.
                await SetFinishedAsync(jobId, "'failed'", stoppingToken, evenWithItemsLeft: true);
                LogJobRun(logger, jobId, ran);
                return;
            }
        }

        await SetFinishedAsync(jobId, "CASE WHEN EXISTS (SELECT 1 FROM replay_job_items WHERE job_id = $1 AND outcome = 'failed') THEN 'failed' ELSE 'completed' END", stoppingToken);
        LogJobRun(logger, jobId, ran);
    }

    /// <summary>
    /// Ends a running job (never a cancelled one) once every item it was to run has an outcome — or at once when it
    /// stops early (its canary ran, the broker is unreachable), the rest pending for a resume.
    /// </summary>
    private async Task SetFinishedAsync(Guid jobId, string status, CancellationToken cancellationToken, bool evenWithItemsLeft = false)
    {
        var unfinished = evenWithItemsLeft ? "" : " AND NOT EXISTS (SELECT 1 FROM replay_job_items WHERE job_id = $1 AND outcome IS NULL)";
        await using var finish = dataSource.CreateCommand(
            $"UPDATE replay_jobs SET status = {status}, finished_at = $2 WHERE id = $1 AND status = 'running'{unfinished}");
        finish.Parameters.Add(new NpgsqlParameter { Value = jobId });
        finish.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
        await finish.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Fails every running job, its unsent items left pending for a resume.</summary>
    private async Task FailRunningJobsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var fail = dataSource.CreateCommand("UPDATE replay_jobs SET status = 'failed', finished_at = $1 WHERE status = 'running'");
            fail.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
            await fail.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (NpgsqlException unavailable)
        {
            // The database is away as well: the jobs stay "running" until one of the two is back.
            LogOutage(logger, unavailable.Message);
        }
    }

    private async Task<string?> CurrentStatusAsync(Guid jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT status FROM replay_jobs WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        return (string?)await command.ExecuteScalarAsync(cancellationToken);
    }

    public static string Describe(ReplayOutcome outcome) => outcome switch
    {
        ReplayOutcome.Replayed => "replayed",
        ReplayOutcome.AlreadyReplayed => "already-replayed",
        ReplayOutcome.NotFound => "not-found",
        _ => "failed",
    };

    private async Task<JobSettings> JobAsync(Guid jobId, CancellationToken cancellationToken)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<DeadLettersDbContext>();
        return await db.ReplayJobs.AsNoTracking().Where(x => x.Id == jobId)
            .Select(x => new JobSettings(x.RequestedBy, x.Reason, x.Status, x.Canary, x.CanaryPassed, x.RatePerSecond, x.Items.Count))
            .SingleAsync(cancellationToken);
    }

    private sealed record JobSettings(string Actor, string? Reason, string Status, int? Canary, bool CanaryPassed, int? RatePerSecond, int Items);

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
