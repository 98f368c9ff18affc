using EventBackbone.DeadLetters.Persistence;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.DeadLetters.Replay;

/// <param name="MessageIds">A selection; or</param>
/// <param name="Fingerprint">a whole group (every message of it still dead); or</param>
/// <param name="Filter">every dead message the list's filter finds (the same fields as <c>GET /api/v1/dead-letters</c>).</param>
/// <param name="Reason">Why, for the audit.</param>
public sealed record ReplayRequest(IReadOnlyList<Guid>? MessageIds, string? Fingerprint, ReplayFilter? Filter, string? Reason);

public sealed record ReplayFilter(string? Queue, string? MessageType, string? Exception, DateTimeOffset? From, DateTimeOffset? To, string? Q);

public sealed record ReasonBody(string? Reason);

/// <param name="Message">The corrected message (the contract's fields, not the envelope).</param>
public sealed record EditRequest(System.Text.Json.JsonElement Message, string? Reason);

/// <summary>What operators do to dead letters, each under its own scope and each audited.</summary>
public static class DeadLetterActions
{
    public const string ReplayScope = OperatorScopes.DeadLettersReplay;
    public const string EditScope = OperatorScopes.DeadLettersEdit;
    public const string DeleteScope = OperatorScopes.DeadLettersDelete;

    public static IEndpointRouteBuilder MapDeadLetterActions(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/dead-letters").WithTags("Dead letters");
        api.MapPost("/{messageId:guid}/replay", ReplayOneAsync).RequireScope(ReplayScope).WithName("ReplayDeadLetter");
        api.MapPost("/replay", ReplayManyAsync).RequireScope(ReplayScope).WithName("ReplayDeadLetters");
        api.MapGet("/replays/{jobId:guid}", async (Guid jobId, ReplayJobRunner jobs, CancellationToken cancellationToken) =>
            await jobs.StatusAsync(jobId, cancellationToken) is { } status ? Results.Ok(status) : JobNotFound(jobId)).RequireScope(ReplayScope).WithName("ReplayJobStatus");
        api.MapPost("/replays/{jobId:guid}/resume", async (Guid jobId, ReplayJobRunner jobs, CancellationToken cancellationToken) =>
            await jobs.ResumeAsync(jobId, cancellationToken) is { } status
                ? Results.Accepted($"/api/v1/dead-letters/replays/{jobId}", status)
                : JobNotFound(jobId)).RequireScope(ReplayScope).WithName("ResumeReplayJob");
        api.MapPost("/{messageId:guid}/archive", (Guid messageId, ReasonBody? body, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken) =>
            SetStatusAsync(messageId, "dead", "archived", "archive", body?.Reason, context, db, clock, cancellationToken)).RequireScope(EditScope).WithName("ArchiveDeadLetter");
        api.MapPost("/{messageId:guid}/restore", (Guid messageId, ReasonBody? body, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken) =>
            SetStatusAsync(messageId, "archived", "dead", "restore", body?.Reason, context, db, clock, cancellationToken)).RequireScope(EditScope).WithName("RestoreDeadLetter");
        api.MapDelete("/{messageId:guid}", DeleteAsync).RequireScope(DeleteScope).WithName("DeleteDeadLetter");
        api.MapPost("/{messageId:guid}/edit-and-replay", EditAndReplayAsync).RequireScope(EditScope).WithName("EditAndReplayDeadLetter");
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
    /// A selection, a whole group or a filter, as a background job whose progress is at the returned Location. The
    /// messages are fixed when it is asked for (oldest failure first); after a crash the job resumes, and the ledger keeps
    /// what was confirmed from going out twice.
    /// </summary>
    private static async Task<IResult> ReplayManyAsync(ReplayRequest request, HttpContext context, DeadLettersDbContext db, ReplayJobRunner jobs, CancellationToken cancellationToken)
    {
        var (ids, selection) = request switch
        {
            { MessageIds.Count: > 0 } => (request.MessageIds, $"{request.MessageIds.Count} selected message(s)"),
            { Fingerprint: { Length: > 0 } fingerprint } => (await DeadIdsAsync(
                DeadLetterApi.Filter(db.DeadLetters.AsNoTracking(), null, null, null, fingerprint, null, null, null), cancellationToken), $"group {fingerprint}"),
            // An empty filter would replay everything: that has to be asked for with a field, not by omission.
            { Filter: { } filter } when filter != new ReplayFilter(null, null, null, null, null, null) => (await DeadIdsAsync(
                DeadLetterApi.Filter(db.DeadLetters.AsNoTracking(), filter.Queue, filter.MessageType, filter.Exception, null, filter.From, filter.To, filter.Q),
                cancellationToken), $"filter {System.Text.Json.JsonSerializer.Serialize(filter)}"),
            _ => ((IReadOnlyList<Guid>)[], ""),
        };
        if (ids.Count == 0)
        {
            return Results.ValidationProblem(
                new Dictionary<string, string[]> { ["messageIds"] = ["Name the messages to replay, a fingerprint, or a non-empty filter that finds dead messages."] },
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        var status = await jobs.StartJobAsync(ids, BackboneAuthentication.CallerId(context.User), request.Reason, selection, cancellationToken);
        return Results.Accepted($"/api/v1/dead-letters/replays/{status.JobId}", status);
    }

    /// <summary>Off unless <c>Backbone:DeadLetters:EditAndReplay</c> is true: changing a message is a power to grant deliberately.</summary>
    private static async Task<IResult> EditAndReplayAsync(
        Guid messageId, EditRequest request, HttpContext context, DeadLettersDbContext db, DeadLetterReplayer replayer, Capture.DeadLetterSettings settings, CancellationToken cancellationToken)
    {
        if (!settings.EditAndReplay)
        {
            return Results.Problem(type: "https://eventbackbone.dev/problems/edit-and-replay-disabled", statusCode: StatusCodes.Status403Forbidden,
                title: "Edit-and-replay is disabled", detail: "Set Backbone:DeadLetters:EditAndReplay to true to allow it.");
        }

        var letter = await db.DeadLetters.AsNoTracking().SingleOrDefaultAsync(x => x.MessageId == messageId, cancellationToken);
        if (letter is null)
        {
            return NotFound(messageId);
        }

        var contract = ContractTypes.Resolve(letter.MessageType);
        string? problem = contract is null ? $"The message type '{letter.MessageType}' is not a known contract." : null;
        if (contract is not null)
        {
            try
            {
                _ = System.Text.Json.JsonSerializer.Deserialize(request.Message, contract, ContractTypes.Strict) ?? throw new System.Text.Json.JsonException("The message is null.");
            }
            catch (System.Text.Json.JsonException invalid)
            {
                problem = $"The edited message is not a valid {contract.Name}: {invalid.Message}";
            }
        }

        if (problem is not null)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["message"] = [problem] }, statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        var outcome = await replayer.ReplayAsync(messageId, BackboneAuthentication.CallerId(context.User), request.Reason, request.Message, jobId: null, cancellationToken);
        return outcome switch
        {
            ReplayOutcome.Replayed => Results.Ok(new { messageId, outcome = "replayed" }),
            ReplayOutcome.AlreadyReplayed => Results.Ok(new { messageId, outcome = "already-replayed" }),
            ReplayOutcome.NotFound => NotFound(messageId),
            _ => Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Replay failed"),
        };
    }

    private static async Task<IReadOnlyList<Guid>> DeadIdsAsync(IQueryable<DeadLetter> letters, CancellationToken cancellationToken) =>
        await letters.Where(x => x.Status == "dead").OrderBy(x => x.FirstFailedAt).Select(x => x.MessageId).ToListAsync(cancellationToken);

    private static async Task<IResult> SetStatusAsync(
        Guid messageId, string from, string to, string action, string? reason, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        // One transaction with its audit row: two saves let a dropped connection archive or restore with no record of who.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
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
        await transaction.CommitAsync(cancellationToken);
        return Results.Ok(new { messageId, status = to });
    }

    private static async Task<IResult> DeleteAsync(Guid messageId, string? reason, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["A deletion needs a reason, for the audit."] },
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        // A deletion is only ever committed with its audit row (a dropped connection between two saves left a deletion
        // nobody could account for); without the commit, disposing the transaction rolls both back.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await db.DeadLetters.Where(x => x.MessageId == messageId).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            return NotFound(messageId);
        }

        await AuditAsync(db, context, clock, "delete", messageId, reason, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return Results.NoContent();
    }

    private static async Task AuditAsync(DeadLettersDbContext db, HttpContext context, TimeProvider clock, string action, Guid messageId, string? reason, CancellationToken cancellationToken)
    {
        db.Audit.Add(new AuditEntry { At = clock.GetUtcNow(), Actor = BackboneAuthentication.CallerId(context.User), Action = action, MessageId = messageId, Detail = reason });
        await db.SaveChangesAsync(cancellationToken);
    }

    private static IResult JobNotFound(Guid jobId) =>
        Results.Problem(type: "https://eventbackbone.dev/problems/replay-job-not-found", statusCode: StatusCodes.Status404NotFound,
            title: "Replay job not found", detail: $"No replay job has id {jobId}.");

    internal static IResult NotFound(Guid messageId) =>
        Results.Problem(type: "https://eventbackbone.dev/problems/dead-letter-not-found", statusCode: StatusCodes.Status404NotFound,
            title: "Dead letter not found", detail: $"No dead letter has message id {messageId}.");
}
