using EventBackbone.DeadLetters;
using EventBackbone.DeadLetters.Capture;
using EventBackbone.DeadLetters.Persistence;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// <c>/api/v1/dead-letters</c> over the in-memory store: the routes, scopes, JSON and problems of the dead-letter
/// service, so the console and the CLI work against embedded mode unchanged. The queries are LINQ over memory here and
/// SQL there; the records, the scope names, the contract lookup and the audit cursor are the service's own.
/// </summary>
internal static class EmbeddedDeadLetterApi
{
    private const string Prefix = "/api/v1/dead-letters";
    private const string OnlyFailingQueueNote = "A replay is sent to each message's failing queue only; no other subscriber sees it.";

    public static IEndpointRouteBuilder MapEmbeddedDeadLetterApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(Prefix).WithTags("Dead letters");
        api.MapGet("/", List).RequireScope(DeadLetterApi.ReadScope);
        api.MapGet("/groups", (string? status, string? queue, string? messageType, string? exception, string? q, InMemoryDeadLetterStore store) =>
            DeadLetterApi.Statuses.Contains(status ?? "dead")
                ? Results.Ok(store.Transaction(s => Groups(s, Filter(s.Letters.Values, status ?? "dead", queue, messageType, exception, null, null, null, q))))
                : UnknownStatus()).RequireScope(DeadLetterApi.ReadScope);
        api.MapPut("/groups/{fingerprint}/note", Note).RequireScope(DeadLetterActions.EditScope);
        api.MapGet("/overview", (InMemoryDeadLetterStore store) => store.Transaction(OverviewOf)).RequireScope(DeadLetterApi.ReadScope);
        api.MapGet("/audit", Audit).RequireScope(DeadLetterApi.ReadScope);
        api.MapGet("/{messageId:guid}", Show).RequireScope(DeadLetterApi.ReadScope);
        api.MapGet("/{messageId:guid}/body", Body).RequireScope(DeadLetterApi.ReadScope);
        api.MapGet("/{messageId:guid}/edit", EmbeddedEditAndReplay.Form).RequireScope(DeadLetterApi.ReadScope);
        api.MapPost("/{messageId:guid}/edit-and-replay", EmbeddedEditAndReplay.EditAndReplayAsync).RequireScope(DeadLetterActions.EditScope);
        api.MapPost("/{messageId:guid}/replay", ReplayOneAsync).RequireScope(DeadLetterActions.ReplayScope);
        api.MapPost("/replay/dry-run", DryRun).RequireScope(DeadLetterActions.ReplayScope);
        api.MapPost("/replay", Replay).RequireScope(DeadLetterActions.ReplayScope);
        EmbeddedReplayJobApi.Map(api);
        EmbeddedStatusChanges.Map(api);
        // As in the service: any other path under the prefix wants a token before it hears "not found".
        endpoints.Map($"{Prefix}/{{**rest}}", () => Results.Problem(
                type: "https://eventbackbone.dev/problems/not-found", statusCode: StatusCodes.Status404NotFound, title: "Not found"))
            .RequireAuthorization(policy => policy.AddAuthenticationSchemes(Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerDefaults.AuthenticationScheme).RequireAuthenticatedUser())
            .ExcludeFromDescription();
        return endpoints;
    }

    private static IResult List(
        string? status, string? queue, string? messageType, string? exception, string? fingerprint, DateTimeOffset? from, DateTimeOffset? to, string? q,
        int? limit, string? cursor, InMemoryDeadLetterStore store)
    {
        if (!DeadLetterApi.Statuses.Contains(status ?? "dead"))
        {
            return UnknownStatus();
        }

        if (limit is < 1 or > 500)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["Use 1 to 500."] });
        }

        (DateTimeOffset At, Guid Id)? after = null;
        if (cursor is not null)
        {
            if (ListCursor.TryParse(cursor) is not { } position)
            {
                return DeadLetterApi.InvalidCursor();
            }

            after = position;
        }

        var size = limit ?? 50;
        return Results.Ok(store.Transaction(s =>
        {
            // Keyset on (lastFailedAt desc, messageId desc): new failures arriving while paging neither shift nor repeat a page.
            var matching = Filter(s.Letters.Values, status ?? "dead", queue, messageType, exception, fingerprint, from, to, q)
                .OrderByDescending(x => x.LastFailedAt).ThenByDescending(x => x.MessageId).ToList();
            var page = matching
                .Where(x => after is not { } a || x.LastFailedAt < a.At || (x.LastFailedAt == a.At && x.MessageId.CompareTo(a.Id) < 0))
                .Take(size + 1).ToList();
            var next = page.Count > size ? ListCursor.Format(page[size - 1].LastFailedAt, page[size - 1].MessageId) : null;
            return new DeadLetterPage([.. page.Take(size).Select(SummaryOf)], matching.Count, next);
        }));
    }

    private static IResult Show(Guid messageId, InMemoryDeadLetterStore store) => store.Transaction(s =>
        s.Letters.TryGetValue(messageId, out var letter)
            ? Results.Ok(new DeadLetterDetail(
                SummaryOf(letter), letter.CorrelationId, letter.StackTrace, letter.ConsumerType, letter.Host, letter.ContentType, letter.Body.Length, letter.Headers,
                [.. s.Failures.Where(x => x.MessageId == messageId).OrderBy(x => x.FailedAt)
                    .Select(x => new FailureRecord(x.FailedAt, x.SourceQueue, x.ExceptionType, x.ExceptionMessage, x.Host))],
                [.. s.Ledger.Values.Where(x => x.MessageId == messageId).OrderBy(x => x.FailureCount)
                    .Select(x => new ReplayRecord(x.FailureCount, x.Status, x.RequestedBy, x.RequestedAt, x.ConfirmedAt, x.JobId))],
                letter.InputAddressMismatch))
            : DeadLetterActions.NotFound(messageId));

    /// <summary>A body may carry personal data: who read which one is on record.</summary>
    private static IResult Body(Guid messageId, HttpContext context, InMemoryDeadLetterStore store) => store.Transaction(s =>
    {
        if (!s.Letters.TryGetValue(messageId, out var letter))
        {
            return DeadLetterActions.NotFound(messageId);
        }

        s.AddAudit(BackboneAuthentication.CallerId(context.User), "read-body", messageId, null);
        return Results.Ok(new DeadLetterBody(messageId, letter.ContentType, System.Text.Encoding.UTF8.GetString(letter.Body)));
    });

    private static IResult Note(string fingerprint, NoteRequest body, HttpContext context, InMemoryDeadLetterStore store)
    {
        if (body.Text is not { Length: <= GroupNote.MaxText } text)
        {
            return Validation("text", $"A note is text of at most {GroupNote.MaxText} characters.");
        }

        return Results.Ok(store.Transaction(s =>
        {
            var note = new GroupNote { Fingerprint = fingerprint, Text = text, Investigating = body.Investigating, UpdatedBy = BackboneAuthentication.CallerId(context.User), UpdatedAt = s.Now };
            s.Notes[fingerprint] = note;
            s.AddAudit(note.UpdatedBy, "group-note", null, $"{fingerprint}: {(note.Investigating ? "investigating; " : "")}{text}");
            return ViewOf(note);
        }));
    }

    private static GroupNoteView ViewOf(GroupNote note) => new(note.Text, note.Investigating, note.UpdatedBy, note.UpdatedAt);

    private static IResult Audit(
        string? actor, string? action, Guid? messageId, DateTimeOffset? from, DateTimeOffset? to, string? cursor, int? limit, HttpContext context,
        InMemoryDeadLetterStore store)
    {
        (DateTimeOffset At, long Id)? after = null;
        if (cursor is not null)
        {
            if (AuditCursor.TryParse(cursor) is not { } position)
            {
                return DeadLetterApi.InvalidCursor();
            }

            after = position;
        }

        var size = Math.Clamp(limit ?? 100, 1, 1000);
        var page = store.Transaction(s => s.Audit
            .Where(x => after is not { } a || x.At < a.At || (x.At == a.At && x.Id < a.Id))
            .Where(x => (actor is null || x.Actor == actor) && (action is null || x.Action == action) && (messageId is null || x.MessageId == messageId)
                && (from is null || x.At >= from) && (to is null || x.At < to))
            .OrderByDescending(x => x.At).ThenByDescending(x => x.Id).Take(size + 1).ToList());
        if (page.Count > size)
        {
            page.RemoveAt(size);
            var query = context.Request.Query.Where(x => !string.Equals(x.Key, "cursor", StringComparison.OrdinalIgnoreCase))
                .SelectMany(x => x.Value.Select(value => new KeyValuePair<string, string?>(x.Key, value)))
                .Append(new KeyValuePair<string, string?>("cursor", AuditCursor.Format(page[^1].At, page[^1].Id)));
            context.Response.Headers.Link = $"<{context.Request.PathBase}{context.Request.Path}{QueryString.Create(query)}>; rel=\"next\"";
        }

        return Results.Ok(page);
    }

    private static async Task<IResult> ReplayOneAsync(Guid messageId, ReasonBody? body, HttpContext context, InMemoryReplayer replayer, CancellationToken cancellationToken)
    {
        var outcome = await replayer.ReplayAsync(messageId, BackboneAuthentication.CallerId(context.User), body?.Reason, edited: null, jobId: null, cancellationToken);
        return outcome switch
        {
            ReplayOutcome.NotFound => DeadLetterActions.NotFound(messageId),
            ReplayOutcome.Failed or ReplayOutcome.BrokerUnreachable => Results.Problem(type: "https://eventbackbone.dev/problems/replay-failed", statusCode: StatusCodes.Status502BadGateway,
                title: "Replay failed", detail: "The message could not be sent; the dead letter is unchanged and can be replayed again."),
            _ => Results.Ok(new { messageId, outcome = ReplayJobRunner.Describe(outcome) }),
        };
    }

    /// <summary>What a replay would do, read only: not audited (no body read, nothing changed).</summary>
    private static IResult DryRun(ReplayRequest request, InMemoryDeadLetterStore store) => DeadLetterActions.TooManySelected(request) ?? store.Transaction(s =>
    {
        var letters = Selection(s, request).Letters;
        if (letters.Count == 0)
        {
            return NothingSelected();
        }

        return Results.Ok(new ReplayDryRun(
            letters.Count,
            [.. letters.GroupBy(x => CapturedMessage.TargetOf(x.SourceQueue), StringComparer.Ordinal).Select(g => new QueueCount(g.Key, g.Count()))
                .OrderByDescending(x => x.Count).ThenBy(x => x.Queue, StringComparer.Ordinal)],
            letters.Min(x => x.FirstFailedAt),
            letters.Max(x => x.LastFailedAt),
            letters.Count(x => x.Status == "replayed"),
            OnlyFailingQueue: true,
            OnlyFailingQueueNote));
    });

    private static IResult Replay(ReplayRequest request, HttpContext context, InMemoryDeadLetterStore store, InMemoryReplayJobs runner)
    {
        if (DeadLetterActions.InvalidReplay(request) is { } invalid)
        {
            return invalid;
        }

        var actor = BackboneAuthentication.CallerId(context.User);
        var (job, created) = store.Transaction(s =>
        {
            // A double-click, or a retried request: the same key from the same caller within a day is the same job.
            if (request.IdempotencyKey is { } key && s.Jobs.Values.FirstOrDefault(x =>
                    x.IdempotencyKey == key && x.RequestedBy == actor && x.CreatedAt > s.Now - ReplayJobRunner.IdempotencyWindow) is { } earlier)
            {
                return (earlier, false);
            }

            var (letters, selection) = Selection(s, request);
            if (letters.Count == 0)
            {
                return ((EmbeddedReplayJob?)null, false);
            }

            var started = new EmbeddedReplayJob
            {
                Id = Guid.NewGuid(),
                RequestedBy = actor,
                Reason = request.Reason!,
                Selection = selection,
                IdempotencyKey = request.IdempotencyKey,
                Canary = request.Canary,
                RatePerSecond = request.RatePerSecond,
                CreatedAt = s.Now,
                Status = "running",
                Items = [.. letters.Select((x, position) => new EmbeddedReplayItem(x.MessageId, position))],
            };
            s.Jobs.Add(started.Id, started);
            s.AddAudit(actor, "replay-job", null, $"{started.Id}: {selection} ({started.Items.Count} messages); {request.Reason}");
            return (started, true);
        });
        if (job is null)
        {
            return NothingSelected();
        }

        if (created)
        {
            runner.Run(job.Id);
        }

        return Results.Accepted($"{Prefix}/replays/{job.Id}", store.Transaction(_ => EmbeddedReplayJobApi.ViewOf(job)));
    }

    /// <summary>Ids as given, or a group's or filter's dead messages oldest failure first; an empty filter selects nothing, not everything.</summary>
    private static (List<DeadLetter> Letters, string Description) Selection(InMemoryDeadLetterStore store, ReplayRequest request) => request switch
    {
        { MessageIds.Count: > 0 } ids => (
            [.. ids.MessageIds.Distinct().Select(id => store.Letters.GetValueOrDefault(id)).OfType<DeadLetter>()],
            $"{ids.MessageIds.Count} selected message(s)"),
        { Fingerprint: { Length: > 0 } fingerprint } => (
            [.. Filter(store.Letters.Values, "dead", null, null, null, fingerprint, null, null, null).OrderBy(x => x.FirstFailedAt)], $"group {fingerprint}"),
        { Filter: { } filter } when filter != new ReplayFilter(null, null, null, null, null, null) => (
            [.. Filter(store.Letters.Values, "dead", filter.Queue, filter.MessageType, filter.Exception, null, filter.From, filter.To, filter.Q).OrderBy(x => x.FirstFailedAt)],
            $"filter {System.Text.Json.JsonSerializer.Serialize(filter)}"),
        _ => ([], ""),
    };

    /// <summary>The list's filters, with the service's meaning: queue is either end, messageType and q are substrings (q case-insensitive).</summary>
    internal static IEnumerable<DeadLetter> Filter(
        IEnumerable<DeadLetter> letters, string? status, string? queue, string? messageType, string? exception, string? fingerprint, DateTimeOffset? from,
        DateTimeOffset? to, string? q) =>
        letters.Where(x =>
            (status is null || x.Status == status)
            && (queue is null || x.SourceQueue == queue || x.TargetQueue == queue)
            && (messageType is null || (x.MessageType?.Contains(messageType, StringComparison.Ordinal) ?? false))
            && (exception is null || x.ExceptionType == exception)
            && (fingerprint is null || x.Fingerprint == fingerprint)
            && (from is null || x.LastFailedAt >= from)
            && (to is null || x.LastFailedAt < to)
            && (q is null || (x.ExceptionMessage?.Contains(q, StringComparison.OrdinalIgnoreCase) ?? false)));

    private static List<DeadLetterGroup> Groups(InMemoryDeadLetterStore store, IEnumerable<DeadLetter> letters) =>
        [.. letters.GroupBy(x => x.Fingerprint, StringComparer.Ordinal)
            .Select(g =>
            {
                var ids = g.Select(x => x.MessageId).ToHashSet();
                var last = store.Ledger.Values.Where(x => ids.Contains(x.MessageId)).MaxBy(x => x.RequestedAt);
                return new DeadLetterGroup(
                    g.Key, g.Max(x => x.ExceptionType), g.Max(x => x.MessageType), g.Max(x => x.ExceptionMessage), g.Count(), g.Min(x => x.FirstFailedAt),
                    g.Max(x => x.LastFailedAt), [.. g.Select(x => x.SourceQueue).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
                    last is null ? null : new LastReplay(
                        last.JobId, last.RequestedBy, last.RequestedAt, last.JobId is { } job && store.Jobs.TryGetValue(job, out var j) ? j.Status : last.Status),
                    store.Notes.TryGetValue(g.Key, out var note) ? ViewOf(note) : null);
            })
            .OrderByDescending(x => x.Count)];

    private static DeadLetterOverview OverviewOf(InMemoryDeadLetterStore store)
    {
        var dead = store.Letters.Values.Where(x => x.Status == "dead").ToList();
        return new DeadLetterOverview(
            [.. dead.GroupBy(x => x.SourceQueue).Select(g => new QueueCount(g.Key, g.Count())).OrderByDescending(x => x.Count)],
            [.. Groups(store, dead).Take(5)],
            [.. store.Jobs.Values.Where(x => x.Status == "running").OrderByDescending(x => x.CreatedAt).Select(EmbeddedReplayJobApi.ViewOf)],
            new StatusTotals(dead.Count, store.Letters.Values.Count(x => x.Status == "archived"), store.Letters.Values.Count(x => x.Status == "replayed")));
    }

    internal static DeadLetterSummary SummaryOf(DeadLetter x) => new(
        x.MessageId, x.SourceQueue, x.TargetQueue, x.Reason, x.MessageType, x.ExceptionType,
        x.ExceptionMessage, x.Fingerprint, x.FailureCount, x.FirstFailedAt, x.LastFailedAt, x.Status);

    internal static IResult Validation(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, statusCode: StatusCodes.Status422UnprocessableEntity);

    private static IResult NothingSelected() =>
        Validation("messageIds", "Name the messages to replay, a fingerprint, or a non-empty filter that finds dead messages.");

    private static IResult UnknownStatus() =>
        Results.ValidationProblem(new Dictionary<string, string[]> { ["status"] = ["Status is one of dead, replayed, archived."] });
}
