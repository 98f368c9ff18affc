using EventBackbone.DeadLetters.Persistence;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.DeadLetters.Replay;

/// <param name="MessageIds">A selection; or</param>
/// <param name="Fingerprint">a whole group (every message of it still dead).</param>
/// <param name="Reason">Why, for the audit.</param>
public sealed record ReplayRequest(IReadOnlyList<Guid>? MessageIds, string? Fingerprint, string? Reason);

public sealed record ReplayReport(int Replayed, int AlreadyReplayed, int NotFound, int Failed);

public sealed record ReasonBody(string? Reason);

/// <summary>What operators do to dead letters, each under its own scope and each audited.</summary>
public static class DeadLetterActions
{
    public const string ReplayScope = "dead-letters:replay";
    public const string EditScope = "dead-letters:edit";
    public const string DeleteScope = "dead-letters:delete";

    public static IEndpointRouteBuilder MapDeadLetterActions(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/dead-letters").WithTags("Dead letters");
        api.MapPost("/{messageId:guid}/replay", ReplayOneAsync).RequireScope(ReplayScope).WithName("ReplayDeadLetter");
        api.MapPost("/replay", ReplayManyAsync).RequireScope(ReplayScope).WithName("ReplayDeadLetters");
        api.MapPost("/{messageId:guid}/archive", (Guid messageId, ReasonBody? body, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken) =>
            SetStatusAsync(messageId, "dead", "archived", "archive", body?.Reason, context, db, clock, cancellationToken)).RequireScope(EditScope).WithName("ArchiveDeadLetter");
        api.MapPost("/{messageId:guid}/restore", (Guid messageId, ReasonBody? body, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken) =>
            SetStatusAsync(messageId, "archived", "dead", "restore", body?.Reason, context, db, clock, cancellationToken)).RequireScope(EditScope).WithName("RestoreDeadLetter");
        api.MapDelete("/{messageId:guid}", DeleteAsync).RequireScope(DeleteScope).WithName("DeleteDeadLetter");
        return endpoints;
    }

    private static async Task<IResult> ReplayOneAsync(Guid messageId, ReasonBody? body, HttpContext context, DeadLetterReplayer replayer, CancellationToken cancellationToken)
    {
        var outcome = await replayer.ReplayAsync(messageId, BackboneAuthentication.CallerId(context.User), body?.Reason, cancellationToken);
        return outcome switch
        {
            ReplayOutcome.NotFound => NotFound(messageId),
            ReplayOutcome.Failed => Results.Problem(type: "https://eventbackbone.dev/problems/replay-failed", statusCode: StatusCodes.Status502BadGateway,
                title: "Replay failed", detail: "The broker did not confirm the replay; the dead letter is unchanged and can be replayed again."),
            _ => Results.Ok(new { messageId, outcome = outcome == ReplayOutcome.Replayed ? "replayed" : "already-replayed" }),
        };
    }

    /// <summary>
    /// A selection or a whole group, one message at a time. Resumable: asking again after a crash replays only what the
    /// ledger has not confirmed yet.
    /// </summary>
    private static async Task<IResult> ReplayManyAsync(ReplayRequest request, HttpContext context, DeadLettersDbContext db, DeadLetterReplayer replayer, CancellationToken cancellationToken)
    {
        IReadOnlyList<Guid> ids = request switch
        {
            { MessageIds.Count: > 0 } => request.MessageIds,
            { Fingerprint: { Length: > 0 } fingerprint } => await db.DeadLetters.AsNoTracking()
                .Where(x => x.Fingerprint == fingerprint && x.Status == "dead").OrderBy(x => x.FirstFailedAt).Select(x => x.MessageId)
                .ToListAsync(cancellationToken),
            _ => [],
        };
        if (ids.Count == 0)
        {
            return Results.ValidationProblem(
                new Dictionary<string, string[]> { ["messageIds"] = ["Name the messages to replay, or a fingerprint."] },
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        var actor = BackboneAuthentication.CallerId(context.User);
        int replayed = 0, already = 0, missing = 0, failed = 0;
        foreach (var id in ids)
        {
            switch (await replayer.ReplayAsync(id, actor, request.Reason, cancellationToken))
            {
                case ReplayOutcome.Replayed: replayed++; break;
                case ReplayOutcome.AlreadyReplayed: already++; break;
                case ReplayOutcome.NotFound: missing++; break;
                default: failed++; break;
            }
        }

        return Results.Ok(new ReplayReport(replayed, already, missing, failed));
    }

    private static async Task<IResult> SetStatusAsync(
        Guid messageId, string from, string to, string action, string? reason, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var changed = await db.DeadLetters.Where(x => x.MessageId == messageId && x.Status == from)
            .ExecuteUpdateAsync(x => x.SetProperty(letter => letter.Status, to), cancellationToken);
        if (changed == 0)
        {
            return await db.DeadLetters.AnyAsync(x => x.MessageId == messageId, cancellationToken)
                ? Results.Problem(type: "https://eventbackbone.dev/problems/dead-letter-state", statusCode: StatusCodes.Status409Conflict,
                    title: "Not in that state", detail: $"Only a dead letter that is '{from}' can be {action}d.")
                : NotFound(messageId);
        }

        await AuditAsync(db, context, clock, action, messageId, reason, cancellationToken);
        return Results.Ok(new { messageId, status = to });
    }

    private static async Task<IResult> DeleteAsync(Guid messageId, string? reason, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["A deletion needs a reason, for the audit."] },
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        if (await db.DeadLetters.Where(x => x.MessageId == messageId).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            return NotFound(messageId);
        }

        await AuditAsync(db, context, clock, "delete", messageId, reason, cancellationToken);
        return Results.NoContent();
    }

    private static async Task AuditAsync(DeadLettersDbContext db, HttpContext context, TimeProvider clock, string action, Guid messageId, string? reason, CancellationToken cancellationToken)
    {
        db.Audit.Add(new AuditEntry { At = clock.GetUtcNow(), Actor = BackboneAuthentication.CallerId(context.User), Action = action, MessageId = messageId, Detail = reason });
        await db.SaveChangesAsync(cancellationToken);
    }

    private static IResult NotFound(Guid messageId) =>
        Results.Problem(type: "https://eventbackbone.dev/problems/dead-letter-not-found", statusCode: StatusCodes.Status404NotFound,
            title: "Dead letter not found", detail: $"No dead letter has message id {messageId}.");
}
