using EventBackbone.DeadLetters.Persistence;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EventBackbone.DeadLetters.Replay;

/// <param name="MessageIds">A selection; or</param>
/// <param name="Fingerprint">a whole group (every message of it still dead); or</param>
/// <param name="Filter">every dead message the list's filter finds (the same fields as <c>GET /api/v1/dead-letters</c>).</param>
/// <param name="Reason">Why, for the audit: required (at most 500 characters) to start a replay; not read by a dry run.</param>
/// <param name="Canary">1–1000: replay the first this many, then stop the job as <c>canary-complete</c> until it is resumed.</param>
/// <param name="RatePerSecond">1–1000 replays a second at most; unthrottled when absent.</param>
/// <param name="IdempotencyKey">At most 100 characters: the same key from the same caller within 24 h returns the same job (a double click starts one).</param>
public sealed record ReplayRequest(
    IReadOnlyList<Guid>? MessageIds, string? Fingerprint, ReplayFilter? Filter, string? Reason, int? Canary = null, int? RatePerSecond = null, string? IdempotencyKey = null);

public sealed record ReplayFilter(string? Queue, string? MessageType, string? Exception, DateTimeOffset? From, DateTimeOffset? To, string? Q);

public sealed record ReasonBody(string? Reason);

/// <param name="Message">The corrected message (the contract's fields, not the envelope).</param>
public sealed record EditRequest(System.Text.Json.JsonElement Message, string? Reason);

/// <summary>What a replay of the same request would send: nothing is sent, changed or audited.</summary>
/// <param name="Count">Messages the job would take.</param>
/// <param name="Queues">Where they would go: each to the queue that failed it.</param>
/// <param name="AlreadyReplayed">Of those, already replayed: the ledger keeps them from going out again.</param>
public sealed record ReplayDryRun(
    int Count, IReadOnlyList<QueueCount> Queues, DateTimeOffset? OldestFailedAt, DateTimeOffset? NewestFailedAt, int AlreadyReplayed, bool OnlyFailingQueue, string Note);

/// <param name="Status">The list's <c>status</c> tab the filter reads (default: the one the action starts from).</param>
public sealed record BulkFilter(
    string? Queue, string? MessageType, string? Exception, string? Fingerprint, DateTimeOffset? From, DateTimeOffset? To, string? Q, string? Status);

/// <param name="MessageIds">At most 1000; or</param>
/// <param name="Filter">every message the list's filter finds ("all N matching").</param>
/// <param name="Reason">Required, for the audit (one row per message).</param>
public sealed record BulkRequest(IReadOnlyList<Guid>? MessageIds, BulkFilter? Filter, string? Reason);

/// <param name="Matched">Messages the selection found.</param>
/// <param name="Changed">Of those, the ones changed (e.g. an already archived message is not archived again).</param>
public sealed record BulkResult(int Matched, int Changed);

public sealed record NoteRequest(string? Text, bool Investigating);

/// <summary>What operators do to dead letters, each under its own scope and each audited.</summary>
public static class DeadLetterActions
{
    public const string ReplayScope = OperatorScopes.DeadLettersReplay;
    public const string EditScope = OperatorScopes.DeadLettersEdit;
    public const string DeleteScope = OperatorScopes.DeadLettersDelete;

    private const int MaxReason = 500;
    private const int MaxBulkIds = 1000;

    public static IEndpointRouteBuilder MapDeadLetterActions(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/dead-letters").WithTags("Dead letters");
        api.MapPost("/{messageId:guid}/replay", ReplayOneAsync).RequireScope(ReplayScope).WithName("ReplayDeadLetter")
            .Produces(StatusCodes.Status200OK).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status502BadGateway);
        api.MapPost("/replay/dry-run", DryRunAsync).RequireScope(ReplayScope).WithName("DryRunReplay")
            .Produces<ReplayDryRun>().ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/replay", ReplayManyAsync).RequireScope(ReplayScope).WithName("ReplayDeadLetters")
            .Produces<ReplayJobStatus>(StatusCodes.Status202Accepted).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapGet("/replays", ListJobsAsync).RequireAnyScope(DeadLetterApi.ReadScope, ReplayScope).WithName("ListReplayJobs")
            .Produces<ReplayJobPage>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status400BadRequest);
        api.MapGet("/replays/{jobId:guid}", async (Guid jobId, ReplayJobRunner jobs, CancellationToken cancellationToken) =>
                await jobs.StatusAsync(jobId, cancellationToken) is { } status ? Results.Ok(status) : JobNotFound(jobId))
            .RequireAnyScope(DeadLetterApi.ReadScope, ReplayScope).WithName("ReplayJobStatus").Produces<ReplayJobStatus>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/replays/{jobId:guid}/items", JobItemsAsync).RequireAnyScope(DeadLetterApi.ReadScope, ReplayScope).WithName("ReplayJobItems")
            .Produces<ReplayJobItemPage>().ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem();
        api.MapPost("/replays/{jobId:guid}/cancel", CancelJobAsync).RequireScope(ReplayScope).WithName("CancelReplayJob")
            .Produces<ReplayJobStatus>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/replays/{jobId:guid}/resume", async (Guid jobId, HttpContext context, ReplayJobRunner jobs, CancellationToken cancellationToken) =>
                await jobs.ResumeAsync(jobId, BackboneAuthentication.CallerId(context.User), cancellationToken) is { } status
                    ? Results.Accepted($"/api/v1/dead-letters/replays/{jobId}", status)
                    : JobNotFound(jobId))
            .RequireScope(ReplayScope).WithName("ResumeReplayJob").Produces<ReplayJobStatus>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/{messageId:guid}/archive", (Guid messageId, ReasonBody? body, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken) =>
                SetStatusAsync(messageId, "dead", "archived", "archive", body?.Reason, context, db, clock, cancellationToken))
            .RequireScope(EditScope).WithName("ArchiveDeadLetter").Produces(StatusCodes.Status200OK).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/{messageId:guid}/restore", (Guid messageId, ReasonBody? body, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken) =>
                SetStatusAsync(messageId, "archived", "dead", "restore", body?.Reason, context, db, clock, cancellationToken))
            .RequireScope(EditScope).WithName("RestoreDeadLetter").Produces(StatusCodes.Status200OK).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapDelete("/{messageId:guid}", DeleteAsync).RequireScope(DeleteScope).WithName("DeleteDeadLetter")
            .Produces(StatusCodes.Status204NoContent).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/archive", (BulkRequest request, HttpContext context, DeadLettersDbContext db, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken) =>
                BulkAsync(request, "archive", context, db, dataSource, clock, cancellationToken))
            .RequireScope(EditScope).WithName("ArchiveDeadLetters").Produces<BulkResult>().ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/restore", (BulkRequest request, HttpContext context, DeadLettersDbContext db, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken) =>
                BulkAsync(request, "restore", context, db, dataSource, clock, cancellationToken))
            .RequireScope(EditScope).WithName("RestoreDeadLetters").Produces<BulkResult>().ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/delete", (BulkRequest request, HttpContext context, DeadLettersDbContext db, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken) =>
                BulkAsync(request, "delete", context, db, dataSource, clock, cancellationToken))
            .RequireScope(DeleteScope).WithName("DeleteDeadLetters").Produces<BulkResult>().ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPut("/groups/{fingerprint}/note", SaveNoteAsync).RequireScope(EditScope).WithName("SaveGroupNote")
            .Produces<GroupNoteView>().ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/{messageId:guid}/edit-and-replay", EditAndReplayAsync).RequireScope(EditScope).WithName("EditAndReplayDeadLetter")
            .Produces(StatusCodes.Status200OK).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    private static async Task<IResult> ReplayOneAsync(Guid messageId, ReasonBody? body, HttpContext context, DeadLetterReplayer replayer, CancellationToken cancellationToken)
    {
        var outcome = await replayer.ReplayAsync(messageId, BackboneAuthentication.CallerId(context.User), body?.Reason, cancellationToken);
        return outcome switch
        {
            ReplayOutcome.NotFound => NotFound(messageId),
            ReplayOutcome.Failed or ReplayOutcome.BrokerUnreachable => Results.Problem(type: "https://eventbackbone.dev/problems/replay-failed",
                statusCode: StatusCodes.Status502BadGateway, title: "Replay failed",
                detail: "The broker did not confirm the replay; the dead letter is unchanged and can be replayed again."),
            _ => Results.Ok(new { messageId, outcome = outcome == ReplayOutcome.Replayed ? "replayed" : "already-replayed" }),
        };
    }

    /// <summary>The messages a replay request names, oldest failure first, and how the job describes that selection.</summary>
    private static async Task<(IReadOnlyList<Guid> Ids, string Selection)> SelectAsync(ReplayRequest request, DeadLettersDbContext db, CancellationToken cancellationToken) =>
        request switch
        {
            { MessageIds.Count: > 0 } => (request.MessageIds, $"{request.MessageIds.Count} selected message(s)"),
            { Fingerprint: { Length: > 0 } fingerprint } => (await DeadIdsAsync(
                DeadLetterApi.Filter(db.DeadLetters.AsNoTracking(), null, null, null, fingerprint, null, null, null), cancellationToken), $"group {fingerprint}"),
            // An empty filter would replay everything: that has to be asked for with a field, not by omission.
            { Filter: { } filter } when filter != new ReplayFilter(null, null, null, null, null, null) => (await DeadIdsAsync(
                DeadLetterApi.Filter(db.DeadLetters.AsNoTracking(), filter.Queue, filter.MessageType, filter.Exception, null, filter.From, filter.To, filter.Q),
                cancellationToken), $"filter {System.Text.Json.JsonSerializer.Serialize(filter)}"),
            _ => ([], ""),
        };

    /// <summary>
    /// What is wrong with a replay request before anything is looked up (a 422 naming each field), or null. Shared with
    /// embedded mode's in-memory API, so both refuse the same requests.
    /// </summary>
    internal static IResult? InvalidReplay(ReplayRequest request)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        RequireReason(errors, request.Reason);
        if (request.Canary is < 1 or > 1000)
        {
            errors["canary"] = ["Use 1 to 1000."];
        }

        if (request.RatePerSecond is < 1 or > 1000)
        {
            errors["ratePerSecond"] = ["Use 1 to 1000."];
        }

        if (request.IdempotencyKey is { Length: > 100 })
        {
            errors["idempotencyKey"] = ["At most 100 characters."];
        }

        return errors.Count > 0 ? Results.ValidationProblem(errors, statusCode: StatusCodes.Status422UnprocessableEntity) : TooManySelected(request);
    }

    /// <summary>Named ids are bounded like bulk actions': unbounded, a 30 MB body became one job of ~700 000 items.</summary>
    internal static IResult? TooManySelected(ReplayRequest request) => request.MessageIds is { Count: > MaxBulkIds }
        ? Results.ValidationProblem(
            new Dictionary<string, string[]> { ["messageIds"] = [$"At most {MaxBulkIds} at once; replay a group or a filter for more."] },
            statusCode: StatusCodes.Status422UnprocessableEntity)
        : null;

    private static IResult NothingSelected() => Results.ValidationProblem(
        new Dictionary<string, string[]> { ["messageIds"] = ["Name the messages to replay, a fingerprint, or a non-empty filter that finds dead messages."] },
        statusCode: StatusCodes.Status422UnprocessableEntity);

    /// <summary>Counts what a replay would send and where, with the same selection rules; reads no body, changes nothing, so it is not audited.</summary>
    private static async Task<IResult> DryRunAsync(ReplayRequest request, DeadLettersDbContext db, CancellationToken cancellationToken)
    {
        if (TooManySelected(request) is { } tooMany)
        {
            return tooMany;
        }

        var (ids, _) = await SelectAsync(request, db, cancellationToken);
        if (ids.Count == 0)
        {
            return NothingSelected();
        }

        var distinct = ids.Distinct().ToList();
        var found = await db.DeadLetters.AsNoTracking().Where(x => distinct.Contains(x.MessageId))
            .Select(x => new { x.SourceQueue, x.Status, x.FirstFailedAt, x.LastFailedAt }).ToListAsync(cancellationToken);
        // Where the replayer sends it: the captured queue without its suffix, never the stored target (see DeadLetterReplayer).
        var queues = found.GroupBy(x => Capture.CapturedMessage.TargetOf(x.SourceQueue), StringComparer.Ordinal)
            .Select(g => new QueueCount(g.Key, g.Count())).OrderByDescending(x => x.Count).ThenBy(x => x.Queue, StringComparer.Ordinal).ToList();
        return Results.Ok(new ReplayDryRun(
            distinct.Count, queues, found.Count == 0 ? null : found.Min(x => x.FirstFailedAt), found.Count == 0 ? null : found.Max(x => x.LastFailedAt),
            found.Count(x => x.Status == "replayed"), OnlyFailingQueue: true,
            "A replay is sent to each message's failing queue only; no other subscriber sees it."));
    }

    /// <summary>
    /// A selection, a whole group or a filter, as a background job whose progress is at the returned Location. The
    /// messages are fixed when it is asked for (oldest failure first); after a crash the job resumes, and the ledger keeps
    /// what was confirmed from going out twice. The same idempotency key returns the same job.
    /// </summary>
    private static async Task<IResult> ReplayManyAsync(ReplayRequest request, HttpContext context, DeadLettersDbContext db, ReplayJobRunner jobs, CancellationToken cancellationToken)
    {
        if (InvalidReplay(request) is { } invalid)
        {
            return invalid;
        }

        var actor = BackboneAuthentication.CallerId(context.User);
        if (!string.IsNullOrEmpty(request.IdempotencyKey) && await jobs.JobOfKeyAsync(actor, request.IdempotencyKey, cancellationToken) is { } earlier)
        {
            return Results.Accepted($"/api/v1/dead-letters/replays/{earlier.JobId}", earlier);
        }

        var (ids, selection) = await SelectAsync(request, db, cancellationToken);
        if (ids.Count == 0)
        {
            return NothingSelected();
        }

        var (status, _) = await jobs.StartJobAsync(
            new ReplayJobRequest(ids, actor, request.Reason, selection, request.Canary, request.RatePerSecond,
                string.IsNullOrEmpty(request.IdempotencyKey) ? null : request.IdempotencyKey),
            cancellationToken);
        return Results.Accepted($"/api/v1/dead-letters/replays/{status.JobId}", status);
    }

    private static async Task<IResult> ListJobsAsync(string? status, string? cursor, int? limit, ReplayJobRunner jobs, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (status is not null && !ReplayJobRunner.Statuses.Contains(status, StringComparer.Ordinal))
        {
            errors["status"] = [$"Use one of {string.Join(", ", ReplayJobRunner.Statuses)}."];
        }

        if (limit is < 1 or > 200)
        {
            errors["limit"] = ["Use 1 to 200."];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        (DateTimeOffset, Guid)? after = null;
        if (cursor is not null)
        {
            after = ListCursor.TryParse(cursor);
            if (after is null)
            {
                return DeadLetterApi.InvalidCursor();
            }
        }

        var size = limit ?? 50;
        var page = await jobs.ListAsync(status, after, size + 1, cancellationToken);
        string? next = null;
        if (page.Count > size)
        {
            page.RemoveAt(size);
            next = ListCursor.Format(page[^1].CreatedAt, page[^1].JobId);
        }

        return Results.Ok(new ReplayJobPage(page, next));
    }

    private static async Task<IResult> JobItemsAsync(Guid jobId, string? cursor, int? limit, ReplayJobRunner jobs, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 1000)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["Use 1 to 1000."] });
        }

        var after = -1;
        if (cursor is not null && !int.TryParse(cursor, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out after))
        {
            return DeadLetterApi.InvalidCursor();
        }

        var size = limit ?? 100;
        var items = await jobs.ItemsAsync(jobId, after, size + 1, cancellationToken);
        if (items is null)
        {
            return JobNotFound(jobId);
        }

        string? next = null;
        if (items.Count > size)
        {
            items.RemoveAt(size);
            next = items[^1].Position.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return Results.Ok(new ReplayJobItemPage(items, next));
    }

    private static async Task<IResult> CancelJobAsync(Guid jobId, HttpContext context, ReplayJobRunner jobs, CancellationToken cancellationToken)
    {
        var (status, cancelled) = await jobs.CancelAsync(jobId, BackboneAuthentication.CallerId(context.User), cancellationToken);
        return status switch
        {
            null => JobNotFound(jobId),
            _ when cancelled => Results.Ok(status),
            _ => Results.Problem(type: "https://eventbackbone.dev/problems/replay-job-state", statusCode: StatusCodes.Status409Conflict,
                title: "The job is not running", detail: $"Replay job {jobId} is {status.Status}; only a running job can be cancelled."),
        };
    }

    /// <summary>
    /// Archive, restore or delete every message a selection finds, each with its own audit row: one statement, so a
    /// change is never committed without its record of who and why.
    /// </summary>
    private static async Task<IResult> BulkAsync(
        BulkRequest request, string action, HttpContext context, DeadLettersDbContext db, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (from, to) = action switch { "archive" => ("dead", "archived"), "restore" => ("archived", "dead"), _ => ((string?)null, (string?)null) };
        var errors = new Dictionary<string, string[]>();
        RequireReason(errors, request.Reason);
        if (request.MessageIds is { Count: > MaxBulkIds })
        {
            errors["messageIds"] = [$"At most {MaxBulkIds} at once; use a filter for more."];
        }

        if (request.Filter?.Status is { } status && !DeadLetterApi.Statuses.Contains(status, StringComparer.Ordinal))
        {
            errors["filter.status"] = ["Use dead, replayed or archived."];
        }

        var filter = request.Filter;
        var selected = request.MessageIds is { Count: > 0 } || (filter is not null && filter with { Status = null } != new BulkFilter(null, null, null, null, null, null, null, null));
        if (!selected && errors.Count == 0)
        {
            // An empty filter would act on everything: that has to be asked for with a field, not by omission.
            errors["messageIds"] = ["Name the messages, or a non-empty filter."];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors, statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        List<Guid> ids;
        if (request.MessageIds is { Count: > 0 } given)
        {
            var distinct = given.Distinct().ToList();
            ids = await db.DeadLetters.AsNoTracking().Where(x => distinct.Contains(x.MessageId)).Select(x => x.MessageId).ToListAsync(cancellationToken);
        }
        else
        {
            var tab = filter!.Status ?? from ?? "dead";
            ids = await DeadLetterApi.Filter(db.DeadLetters.AsNoTracking(), filter.Queue, filter.MessageType, filter.Exception, filter.Fingerprint, filter.From, filter.To, filter.Q)
                .Where(x => x.Status == tab).Select(x => x.MessageId).ToListAsync(cancellationToken);
        }

        var change = to is null
            ? "DELETE FROM dead_letters WHERE message_id = ANY($1) RETURNING message_id"
            : "UPDATE dead_letters SET status = $6 WHERE message_id = ANY($1) AND status = $7 RETURNING message_id";
        await using var command = dataSource.CreateCommand($"""
            WITH changed AS ({change})
            INSERT INTO dead_letter_audit (at, actor, action, message_id, detail) SELECT $2, $3, $4, message_id, $5 FROM changed
            """);
        foreach (var value in new object[] { ids.ToArray(), clock.GetUtcNow(), BackboneAuthentication.CallerId(context.User), action, request.Reason! })
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        if (to is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = to });
            command.Parameters.Add(new NpgsqlParameter { Value = from! });
        }

        var changed = await command.ExecuteNonQueryAsync(cancellationToken);
        return Results.Ok(new BulkResult(ids.Count, changed));
    }

    /// <summary>
    /// The group's note, kept by fingerprint in its own table: it survives new failures arriving in the group and the
    /// group emptying and filling again. Saved with its audit row in one statement.
    /// </summary>
    private static async Task<IResult> SaveNoteAsync(string fingerprint, NoteRequest request, HttpContext context, NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (fingerprint.Length > 32)
        {
            errors["fingerprint"] = ["A fingerprint has at most 32 characters."];
        }

        if (request.Text is null)
        {
            errors["text"] = ["Give the note's text (empty to clear it)."];
        }
        else if (request.Text.Length > GroupNote.MaxText)
        {
            errors["text"] = [$"At most {GroupNote.MaxText} characters."];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors, statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        var actor = BackboneAuthentication.CallerId(context.User);
        var at = clock.GetUtcNow();
        await using var command = dataSource.CreateCommand("""
            WITH note AS (
                INSERT INTO group_notes (fingerprint, text, investigating, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (fingerprint) DO UPDATE SET text = excluded.text, investigating = excluded.investigating,
                    updated_by = excluded.updated_by, updated_at = excluded.updated_at
                RETURNING fingerprint)
            INSERT INTO dead_letter_audit (at, actor, action, detail) SELECT $5, $4, 'group-note', fingerprint || ': ' || $6 FROM note
            """);
        var summary = $"{(request.Investigating ? "investigating; " : "")}{(request.Text!.Length > 200 ? request.Text[..200] + "…" : request.Text)}";
        foreach (var value in new object[] { fingerprint, request.Text, request.Investigating, actor, at, summary })
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
        return Results.Ok(new GroupNoteView(request.Text, request.Investigating, actor, at));
    }

    private static void RequireReason(Dictionary<string, string[]> errors, string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            errors["reason"] = ["A reason is required, for the audit."];
        }
        else if (reason.Length > MaxReason)
        {
            errors["reason"] = [$"At most {MaxReason} characters."];
        }
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
        // Keyed by the contract's field ("signupId"), so the console shows each error next to its field.
        var errors = contract is null
            ? new Dictionary<string, string[]> { ["message"] = [$"The message type '{letter.MessageType}' is not a known contract."] }
            : ContractTypes.Validate(request.Message, contract);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors, statusCode: StatusCodes.Status422UnprocessableEntity);
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
        var errors = new Dictionary<string, string[]>();
        RequireReason(errors, reason);
        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors, statusCode: StatusCodes.Status422UnprocessableEntity);
        }

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
