using EventBackbone.DeadLetters.Capture;
using EventBackbone.Messaging.Retention;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.DeadLetters.Persistence;

/// <summary>
/// How long the dead-letter store keeps what is no longer needed, deleted by <see cref="TableRetention"/>:
/// archived dead letters after <c>Backbone:DeadLetters:ArchiveRetention</c> (30 days), each deletion audited as
/// <c>expire</c>; finished replay jobs and confirmed replay-ledger entries after <c>Backbone:DeadLetters:ReplayRetention</c>
/// (90 days); the audit after <c>Backbone:DeadLetters:AuditRetention</c> (400 days: a yearly audit, with a month to spare).
/// </summary>
internal static class DeadLetterRetention
{
    public static IReadOnlyList<RetentionRule> Rules(IConfiguration configuration, DeadLetterSettings deadLetters)
    {
        var settings = new SettingsReader(configuration);
        var replays = settings.Duration("Backbone:DeadLetters:ReplayRetention", TimeSpan.FromDays(90), TimeSpan.FromDays(1), TimeSpan.FromDays(3650));
        var audit = settings.Duration("Backbone:DeadLetters:AuditRetention", TimeSpan.FromDays(400), TimeSpan.FromDays(1), TimeSpan.FromDays(3650));
        return
        [
            new RetentionRule("dead_letters", "status = 'archived' AND last_failed_at < $1", deadLetters.ArchiveRetention)
            {
                Returning = "message_id",
                Then = """
                    INSERT INTO dead_letter_audit (at, actor, action, message_id, detail)
                    SELECT $3, 'retention', 'expire', message_id, 'archived longer than the retention' FROM expired
                    """,
            },
            // The ledger is what makes a second replay of the same failure a no-op: an entry goes only once its dead
            // letter is gone (deleted or expired), never while that failure could still be replayed — however old.
            // A pending entry is left to in-doubt resolution, which confirms or releases it.
            new RetentionRule(
                "replay_ledger",
                "requested_at < $1 AND status = 'confirmed' AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.message_id = replay_ledger.message_id)",
                replays),
            // A finished job's items first, in batches (a job may hold many), then the job once it has none left; a
            // running job is resumed after a crash and keeps everything. Finished = completed, failed, cancelled or
            // canary-complete: each has finished_at set.
            new RetentionRule("replay_job_items", "job_id IN (SELECT id FROM replay_jobs WHERE status <> 'running' AND finished_at < $1)", replays),
            new RetentionRule(
                "replay_jobs",
                "status <> 'running' AND finished_at < $1 AND NOT EXISTS (SELECT 1 FROM replay_job_items i WHERE i.job_id = replay_jobs.id)",
                replays),
            new RetentionRule("dead_letter_audit", "at < $1", audit),
        ];
    }
}
