using EventBackbone.DeadLetters;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary><c>/api/v1/dead-letters/replays</c>: a job's progress, its items, the job list, cancel and resume (scope <c>dead-letters:replay</c>).</summary>
internal static class EmbeddedReplayJobApi
{
    private static readonly string[] Finished = ["completed", "cancelled", "canary-complete", "failed"];

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/replays", (string? status, string? cursor, int? limit, InMemoryDeadLetterStore store) =>
        {
            var skip = 0;
            if (cursor is not null && (!int.TryParse(cursor, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out skip)))
            {
                return DeadLetterApi.InvalidCursor();
            }

            var size = Math.Clamp(limit ?? 50, 1, 500);
            return Results.Ok(store.Transaction(s =>
            {
                var jobs = s.Jobs.Values.Where(x => status is null || x.Status == status).OrderByDescending(x => x.CreatedAt).Skip(skip).Take(size + 1).ToList();
                return new ReplayJobPage([.. jobs.Take(size).Select(ViewOf)], jobs.Count > size ? (skip + size).ToString(System.Globalization.CultureInfo.InvariantCulture) : null);
            }));
        }).RequireAnyScope(DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);
        api.MapGet("/replays/{jobId:guid}", (Guid jobId, InMemoryDeadLetterStore store) =>
            store.Transaction(s => s.Jobs.TryGetValue(jobId, out var job) ? Results.Ok(ViewOf(job)) : JobNotFound(jobId))).RequireAnyScope(DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);
        api.MapGet("/replays/{jobId:guid}/items", (Guid jobId, int? cursor, int? limit, InMemoryDeadLetterStore store) =>
        {
            var size = Math.Clamp(limit ?? 100, 1, 1000);
            return store.Transaction(s =>
            {
                if (!s.Jobs.TryGetValue(jobId, out var job))
                {
                    return JobNotFound(jobId);
                }

                var items = job.Items.Where(x => x.Position > (cursor ?? -1)).Take(size + 1).ToList();
                return Results.Ok(new ReplayJobItemPage(
                    [.. items.Take(size).Select(x => new ReplayJobItemView(x.MessageId, x.Position, x.Outcome))],
                    items.Count > size ? items[size - 1].Position.ToString(System.Globalization.CultureInfo.InvariantCulture) : null));
            });
        }).RequireAnyScope(DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);
        api.MapPost("/replays/{jobId:guid}/cancel", (Guid jobId, HttpContext context, InMemoryDeadLetterStore store) => store.Transaction(s =>
        {
            if (!s.Jobs.TryGetValue(jobId, out var job))
            {
                return JobNotFound(jobId);
            }

            if (job.Status != "running")
            {
                return Results.Problem(type: "https://eventbackbone.dev/problems/replay-job-finished", statusCode: StatusCodes.Status409Conflict,
                    title: "Replay job already finished", detail: $"Job {jobId} is {job.Status}.");
            }

            // Takes effect between two messages: items not yet done keep no outcome, and resume continues them.
            job.Status = "cancelled";
            job.FinishedAt = s.Now;
            s.AddAudit(BackboneAuthentication.CallerId(context.User), "replay-job-cancel", null, jobId.ToString());
            return Results.Ok(ViewOf(job));
        })).RequireScope(DeadLetterActions.ReplayScope);
        api.MapPost("/replays/{jobId:guid}/resume", (Guid jobId, HttpContext context, InMemoryDeadLetterStore store, InMemoryReplayJobs runner) =>
        {
            var resumed = store.Transaction(s =>
            {
                if (!s.Jobs.TryGetValue(jobId, out var job))
                {
                    return null;
                }

                foreach (var item in job.Items.Where(x => x.Outcome == "failed"))
                {
                    item.Outcome = null;
                }

                job.Status = "running";
                job.FinishedAt = null;
                job.CanaryReleased = true;
                s.AddAudit(BackboneAuthentication.CallerId(context.User), "replay-job-resume", null, jobId.ToString());
                return ViewOf(job);
            });
            if (resumed is null)
            {
                return JobNotFound(jobId);
            }

            runner.Run(jobId);
            return Results.Accepted($"/api/v1/dead-letters/replays/{jobId}", resumed);
        }).RequireScope(DeadLetterActions.ReplayScope);
    }

    /// <summary>Only inside a store transaction: the items change while the job runs.</summary>
    public static ReplayJobStatus ViewOf(EmbeddedReplayJob job)
    {
        int Count(string outcome) => job.Items.Count(x => x.Outcome == outcome);
        var done = job.Items.Count(x => x.Outcome is not null);
        return new ReplayJobStatus(
            job.Id, job.Status, job.Items.Count, Count("replayed"), Count("already-replayed"), Count("not-found"), Count("failed"), job.Items.Count - done,
            job.RequestedBy, job.Reason, job.Selection, job.CreatedAt, Finished.Contains(job.Status) ? job.FinishedAt : null, job.Canary, job.RatePerSecond,
            job.Items.Count == 0 ? 100 : done * 100 / job.Items.Count);
    }

    private static IResult JobNotFound(Guid jobId) =>
        Results.Problem(type: "https://eventbackbone.dev/problems/replay-job-not-found", statusCode: StatusCodes.Status404NotFound,
            title: "Replay job not found", detail: $"No replay job has id {jobId}.");
}
