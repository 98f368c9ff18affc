using System.Linq.Expressions;
using EventBackbone.DeadLetters.Persistence;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.DeadLetters;

public sealed record DeadLetterSummary(
    Guid MessageId, string SourceQueue, string TargetQueue, string Reason, string? MessageType, string? ExceptionType,
    string? ExceptionMessage, string Fingerprint, int FailureCount, DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt, string Status);

/// <param name="Queues">The queues its dead letters were captured from.</param>
/// <param name="LastReplay">The newest replay of any of its messages, whatever their status now.</param>
/// <param name="Note">The operators' note on the group, kept apart from its dead letters.</param>
public sealed record DeadLetterGroup(
    string Fingerprint, string? ExceptionType, string? MessageType, string? SampleExceptionMessage, int Count, DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt,
    IReadOnlyList<string> Queues, LastReplay? LastReplay, GroupNoteView? Note);

/// <param name="Status">The job's status when a job sent it, else the ledger's (<c>pending</c> or <c>confirmed</c>).</param>
public sealed record LastReplay(Guid? JobId, string RequestedBy, DateTimeOffset RequestedAt, string Status);

public sealed record GroupNoteView(string Text, bool Investigating, string By, DateTimeOffset At);

/// <param name="Total">Every dead letter the filter matches, not only this page.</param>
/// <param name="Next">The cursor of the next page (pass it as <c>cursor</c> with the same filters), null on the last.</param>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetterSummary> Items, int Total, string? Next);

/// <param name="Failures">Every failure of this message, oldest first: a replay that failed again adds one.</param>
/// <param name="Replays">Every replay of it (one per failure at most), with who asked and whether the broker confirmed.</param>
/// <param name="InputAddressMismatch">Why its <c>MT-Fault-InputAddress</c> was not believed (it names another queue than the one it was captured for), if so.</param>
/// <param name="BodyLength">The body's size in bytes; the body itself is read from <c>/{id}/body</c>, which is audited.</param>
public sealed record DeadLetterDetail(
    DeadLetterSummary Summary, Guid? CorrelationId, string? StackTrace, string? ConsumerType, string? Host, string? ContentType, int BodyLength, string Headers,
    IReadOnlyList<FailureRecord> Failures, IReadOnlyList<ReplayRecord> Replays, string? InputAddressMismatch);

public sealed record DeadLetterBody(Guid MessageId, string? ContentType, string Body);

public sealed record FailureRecord(DateTimeOffset FailedAt, string SourceQueue, string? ExceptionType, string? ExceptionMessage, string? Host);

public sealed record ReplayRecord(int FailureCount, string Status, string RequestedBy, DateTimeOffset RequestedAt, DateTimeOffset? ConfirmedAt, Guid? JobId);

public sealed record QueueCount(string Queue, int Count);

public sealed record StatusTotals(int Dead, int Archived, int Replayed);

/// <summary>The console's home screen in one call.</summary>
public sealed record DeadLetterOverview(
    IReadOnlyList<QueueCount> WaitingByQueue, IReadOnlyList<DeadLetterGroup> LargestGroups, IReadOnlyList<Replay.ReplayJobStatus> RunningJobs, StatusTotals Totals);

/// <param name="Enabled">Whether edit-and-replay is switched on (<c>Backbone:DeadLetters:EditAndReplay</c>).</param>
/// <param name="Contract">The contract type the message deserializes to, null when none is known.</param>
/// <param name="Fields">The contract's fields (its constructor's parameters), camelCase as in the JSON.</param>
public sealed record EditForm(bool Enabled, string? MessageType, string? Contract, IReadOnlyList<Replay.ContractField> Fields);

/// <summary>The operators' read API: <c>/api/v1/dead-letters</c>, scope <c>dead-letters:read</c>. Every body read is audited.</summary>
public static class DeadLetterApi
{
    public const string ReadScope = OperatorScopes.DeadLettersRead;

    /// <summary>The statuses a dead letter has: the list's tabs.</summary>
    internal static readonly string[] Statuses = ["dead", "replayed", "archived"];

    /// <summary>One mapping for the list (translated to SQL) and for a single message (compiled once).</summary>
    private static readonly Expression<Func<DeadLetter, DeadLetterSummary>> Summary = x => new DeadLetterSummary(
        x.MessageId, x.SourceQueue, x.TargetQueue, x.Reason, x.MessageType, x.ExceptionType,
        x.ExceptionMessage, x.Fingerprint, x.FailureCount, x.FirstFailedAt, x.LastFailedAt, x.Status);

    private static readonly Func<DeadLetter, DeadLetterSummary> SummaryOf = Summary.Compile();

    public static IEndpointRouteBuilder MapDeadLetterApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/dead-letters").RequireScope(ReadScope).WithTags("Dead letters");
        api.MapGet("/", ListAsync).WithName("ListDeadLetters")
            .Produces<DeadLetterPage>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status400BadRequest);
        api.MapGet("/groups", GroupsAsync).WithName("DeadLetterGroups").Produces<List<DeadLetterGroup>>().ProducesValidationProblem();
        api.MapGet("/overview", OverviewAsync).WithName("DeadLetterOverview").Produces<DeadLetterOverview>();
        api.MapGet("/audit", AuditAsync).WithName("DeadLetterAudit").Produces<List<AuditEntry>>().ProducesProblem(StatusCodes.Status400BadRequest);
        api.MapGet("/{messageId:guid}", ShowAsync).WithName("ShowDeadLetter").Produces<DeadLetterDetail>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{messageId:guid}/body", BodyAsync).WithName("ReadDeadLetterBody").Produces<DeadLetterBody>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{messageId:guid}/edit", EditFormAsync).WithName("DeadLetterEditForm").Produces<EditForm>().ProducesProblem(StatusCodes.Status404NotFound);
        // Any other path under the prefix wants a token before it hears "not found": without this, probing for endpoints
        // got 404s that the refused-call audit never saw (and the front door's forwarded refusals were lost the same way).
        endpoints.Map("/api/v1/dead-letters/{**rest}", () => Results.Problem(
                type: "https://eventbackbone.dev/problems/not-found", statusCode: StatusCodes.Status404NotFound, title: "Not found"))
            .RequireAuthorization(policy => policy.AddAuthenticationSchemes(Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerDefaults.AuthenticationScheme).RequireAuthenticatedUser())
            .ExcludeFromDescription();
        return endpoints;
    }

    /// <summary>
    /// One status (<c>dead</c> by default) at a time, newest failure first, filtered by <c>queue</c>, <c>messageType</c>,
    /// <c>exception</c> (type), <c>fingerprint</c>, <c>from</c>/<c>to</c> (last failure), <c>q</c> (text in the exception
    /// message); <c>limit</c> (1–500, 50) a page, the next page at <c>cursor</c>. Keyset on (last failure, message id):
    /// failures arriving while an operator pages neither shift a page nor repeat a row.
    /// </summary>
    private static async Task<IResult> ListAsync(
        string? status, string? queue, string? messageType, string? exception, string? fingerprint, DateTimeOffset? from, DateTimeOffset? to, string? q, int? limit,
        string? cursor, DeadLettersDbContext db, CancellationToken cancellationToken)
    {
        status ??= "dead";
        var errors = new Dictionary<string, string[]>();
        if (!Statuses.Contains(status, StringComparer.Ordinal))
        {
            errors["status"] = ["Use dead, replayed or archived."];
        }

        if (limit is < 1 or > 500)
        {
            errors["limit"] = ["Use 1 to 500."];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        (DateTimeOffset At, Guid Id)? after = null;
        if (cursor is not null)
        {
            after = ListCursor.TryParse(cursor);
            if (after is null)
            {
                return InvalidCursor();
            }
        }

        var letters = Filter(db.DeadLetters.AsNoTracking(), queue, messageType, exception, fingerprint, from, to, q).Where(x => x.Status == status);
        var total = await letters.CountAsync(cancellationToken);
        if (after is var (at, id))
        {
            letters = letters.Where(x => EF.Functions.LessThan(ValueTuple.Create(x.LastFailedAt, x.MessageId), ValueTuple.Create(at, id)));
        }

        var size = limit ?? 50;
        // One more than the page tells whether there is a next page.
        var page = await letters.OrderByDescending(x => x.LastFailedAt).ThenByDescending(x => x.MessageId).Take(size + 1)
            .Select(Summary)
            .ToListAsync(cancellationToken);
        string? next = null;
        if (page.Count > size)
        {
            page.RemoveAt(size);
            next = ListCursor.Format(page[^1].LastFailedAt, page[^1].MessageId);
        }

        return Results.Ok(new DeadLetterPage(page, total, next));
    }

    internal static IResult InvalidCursor() =>
        Results.Problem(type: "https://eventbackbone.dev/problems/invalid-cursor", statusCode: StatusCodes.Status400BadRequest,
            title: "Invalid cursor", detail: "Use the cursor the API gave, exactly, with the same filters.");

    /// <summary>Groups of one status (<c>dead</c> by default), filtered like the list, largest first.</summary>
    private static async Task<IResult> GroupsAsync(
        string? status, string? queue, string? messageType, string? exception, string? q, DeadLettersDbContext db, Npgsql.NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        status ??= "dead";
        if (!Statuses.Contains(status, StringComparer.Ordinal))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["status"] = ["Use dead, replayed or archived."] });
        }

        var letters = Filter(db.DeadLetters.AsNoTracking(), queue, messageType, exception, null, null, null, q).Where(x => x.Status == status);
        return Results.Ok(await GroupsOfAsync(db, dataSource, letters, take: null, cancellationToken));
    }

    internal static async Task<List<DeadLetterGroup>> GroupsOfAsync(
        DeadLettersDbContext db, Npgsql.NpgsqlDataSource dataSource, IQueryable<DeadLetter> letters, int? take, CancellationToken cancellationToken)
    {
        var query = letters
            .GroupBy(x => x.Fingerprint)
            .Select(g => new
            {
                Fingerprint = g.Key,
                ExceptionType = g.Max(x => x.ExceptionType),
                MessageType = g.Max(x => x.MessageType),
                Sample = g.Max(x => x.ExceptionMessage),
                Count = g.Count(),
                First = g.Min(x => x.FirstFailedAt),
                Last = g.Max(x => x.LastFailedAt),
            })
            .OrderByDescending(x => x.Count).ThenBy(x => x.Fingerprint);
        var groups = take is { } count ? await query.Take(count).ToListAsync(cancellationToken) : await query.ToListAsync(cancellationToken);
        var fingerprints = groups.Select(x => x.Fingerprint).ToList();
        var queues = (await letters.Where(x => fingerprints.Contains(x.Fingerprint)).Select(x => new { x.Fingerprint, x.SourceQueue }).Distinct().ToListAsync(cancellationToken))
            .ToLookup(x => x.Fingerprint, x => x.SourceQueue);
        var notes = await db.GroupNotes.AsNoTracking().Where(x => fingerprints.Contains(x.Fingerprint)).ToDictionaryAsync(x => x.Fingerprint, cancellationToken);
        var lastReplays = await LastReplaysAsync(dataSource, fingerprints, cancellationToken);
        return groups.Select(x => new DeadLetterGroup(
                x.Fingerprint, x.ExceptionType, x.MessageType, x.Sample, x.Count, x.First, x.Last,
                queues[x.Fingerprint].Order(StringComparer.Ordinal).ToList(),
                lastReplays.GetValueOrDefault(x.Fingerprint),
                notes.TryGetValue(x.Fingerprint, out var note) ? new GroupNoteView(note.Text, note.Investigating, note.UpdatedBy, note.UpdatedAt) : null))
            .ToList();
    }

    /// <summary>Per group, the newest replay of any of its messages (the ledger has one per replayed failure).</summary>
    private static async Task<Dictionary<string, LastReplay>> LastReplaysAsync(Npgsql.NpgsqlDataSource dataSource, List<string> fingerprints, CancellationToken cancellationToken)
    {
        var replays = new Dictionary<string, LastReplay>(StringComparer.Ordinal);
        if (fingerprints.Count == 0)
        {
            return replays;
        }

        await using var command = dataSource.CreateCommand("""
            SELECT DISTINCT ON (d.fingerprint) d.fingerprint, l.job_id, l.requested_by, l.requested_at, coalesce(j.status, l.status)
            FROM replay_ledger l JOIN dead_letters d ON d.message_id = l.message_id LEFT JOIN replay_jobs j ON j.id = l.job_id
            WHERE d.fingerprint = ANY($1)
            ORDER BY d.fingerprint, l.requested_at DESC
            """);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = fingerprints.ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            replays[reader.GetString(0)] = new LastReplay(
                reader.IsDBNull(1) ? null : reader.GetGuid(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetString(4));
        }

        return replays;
    }

    private static async Task<IResult> OverviewAsync(
        DeadLettersDbContext db, Npgsql.NpgsqlDataSource dataSource, Replay.ReplayJobRunner jobs, CancellationToken cancellationToken)
    {
        var dead = db.DeadLetters.AsNoTracking().Where(x => x.Status == "dead");
        var waiting = await dead.GroupBy(x => x.SourceQueue).Select(g => new { Queue = g.Key, Count = g.Count() })
            .OrderByDescending(x => x.Count).ThenBy(x => x.Queue).ToListAsync(cancellationToken);
        var totals = await db.DeadLetters.AsNoTracking().GroupBy(x => x.Status).Select(g => new { Status = g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.Status, x => x.Count, cancellationToken);
        var groups = await GroupsOfAsync(db, dataSource, dead, take: 5, cancellationToken);
        var running = await jobs.ListAsync("running", after: null, limit: 50, cancellationToken);
        return Results.Ok(new DeadLetterOverview(
            waiting.Select(x => new QueueCount(x.Queue, x.Count)).ToList(), groups, running,
            new StatusTotals(totals.GetValueOrDefault("dead"), totals.GetValueOrDefault("archived"), totals.GetValueOrDefault("replayed"))));
    }

    /// <summary>Everything but the body: opening a message is not reading its (possibly personal) content.</summary>
    private static async Task<IResult> ShowAsync(Guid messageId, DeadLettersDbContext db, CancellationToken cancellationToken)
    {
        var letter = await db.DeadLetters.AsNoTracking().SingleOrDefaultAsync(x => x.MessageId == messageId, cancellationToken);
        if (letter is null)
        {
            return Replay.DeadLetterActions.NotFound(messageId);
        }

        var failures = await db.Failures.AsNoTracking().Where(x => x.MessageId == messageId).OrderBy(x => x.FailedAt)
            .Select(x => new FailureRecord(x.FailedAt, x.SourceQueue, x.ExceptionType, x.ExceptionMessage, x.Host))
            .ToListAsync(cancellationToken);
        var replays = await db.ReplayLedger.AsNoTracking().Where(x => x.MessageId == messageId).OrderBy(x => x.FailureCount)
            .Select(x => new ReplayRecord(x.FailureCount, x.Status, x.RequestedBy, x.RequestedAt, x.ConfirmedAt, x.JobId))
            .ToListAsync(cancellationToken);
        return Results.Ok(new DeadLetterDetail(
            SummaryOf(letter),
            letter.CorrelationId, letter.StackTrace, letter.ConsumerType, letter.Host, letter.ContentType,
            letter.Body.Length, letter.Headers, failures, replays, letter.InputAddressMismatch));
    }

    /// <summary>The body, on request: a body may carry personal data, so who read which one is on record (same transaction).</summary>
    private static async Task<IResult> BodyAsync(Guid messageId, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var letter = await db.DeadLetters.AsNoTracking().Where(x => x.MessageId == messageId)
            .Select(x => new { x.ContentType, x.Body }).SingleOrDefaultAsync(cancellationToken);
        if (letter is null)
        {
            return Replay.DeadLetterActions.NotFound(messageId);
        }

        db.Audit.Add(new AuditEntry
        {
            At = clock.GetUtcNow(),
            Actor = BackboneAuthentication.CallerId(context.User),
            Action = "read-body",
            MessageId = messageId,
        });
        await db.SaveChangesAsync(cancellationToken);
        return Results.Ok(new DeadLetterBody(messageId, letter.ContentType, System.Text.Encoding.UTF8.GetString(letter.Body)));
    }

    /// <summary>What the edit form needs: whether editing is on, and the contract's fields (no body: that read is audited apart).</summary>
    private static async Task<IResult> EditFormAsync(Guid messageId, DeadLettersDbContext db, Capture.DeadLetterSettings settings, CancellationToken cancellationToken)
    {
        var letter = await db.DeadLetters.AsNoTracking().Where(x => x.MessageId == messageId).Select(x => new { x.MessageType }).SingleOrDefaultAsync(cancellationToken);
        if (letter is null)
        {
            return Replay.DeadLetterActions.NotFound(messageId);
        }

        var contract = Replay.ContractTypes.Resolve(letter.MessageType);
        return Results.Ok(new EditForm(settings.EditAndReplay, letter.MessageType, contract?.FullName, contract is null ? [] : Replay.ContractTypes.Fields(contract)));
    }

    /// <summary>
    /// Newest first, filtered by <c>actor</c>, <c>action</c>, <c>messageId</c> and <c>from</c>/<c>to</c> (when), a page of
    /// <c>limit</c> (≤ 1000) at a time; a fuller result names its next page in <c>Link: &lt;…&gt;; rel="next"</c> (the same
    /// filters and an opaque <c>cursor</c>). Without filters and paging a flood of refusals pushed an insider's
    /// deletions out of the only page anyone could read.
    /// </summary>
    private static async Task<IResult> AuditAsync(
        string? actor, string? action, Guid? messageId, DateTimeOffset? from, DateTimeOffset? to, string? cursor, int? limit,
        HttpContext context, DeadLettersDbContext db, CancellationToken cancellationToken)
    {
        var entries = db.Audit.AsNoTracking();
        if (cursor is not null)
        {
            if (AuditCursor.TryParse(cursor) is not (var at, var id))
            {
                return InvalidCursor();
            }

            // Keyset on (at, id): rows written during paging neither shift a page nor repeat, and ties in time are split by id.
            entries = entries.Where(x => x.At < at || (x.At == at && x.Id < id));
        }

        if (actor is not null)
        {
            entries = entries.Where(x => x.Actor == actor);
        }

        if (action is not null)
        {
            entries = entries.Where(x => x.Action == action);
        }

        if (messageId is not null)
        {
            entries = entries.Where(x => x.MessageId == messageId);
        }

        if (from is { } since)
        {
            var utc = since.ToUniversalTime();
            entries = entries.Where(x => x.At >= utc);
        }

        if (to is { } until)
        {
            var utc = until.ToUniversalTime();
            entries = entries.Where(x => x.At < utc);
        }

        var size = Math.Clamp(limit ?? 100, 1, 1000);
        // One more than the page tells whether there is a next page without counting.
        var page = await entries.OrderByDescending(x => x.At).ThenByDescending(x => x.Id).Take(size + 1).ToListAsync(cancellationToken);
        if (page.Count > size)
        {
            page.RemoveAt(size);
            var last = page[^1];
            var query = context.Request.Query.Where(x => !string.Equals(x.Key, "cursor", StringComparison.OrdinalIgnoreCase))
                .SelectMany(x => x.Value.Select(value => new KeyValuePair<string, string?>(x.Key, value)))
                .Append(new KeyValuePair<string, string?>("cursor", AuditCursor.Format(last.At, last.Id)));
            context.Response.Headers.Link = $"<{context.Request.PathBase}{context.Request.Path}{QueryString.Create(query)}>; rel=\"next\"";
        }

        return Results.Ok(page);
    }

    private const string LikeEscape = "\\";

    /// <summary>The text as a LIKE/ILIKE pattern that matches only itself: the wildcards and the escape character escaped.</summary>
    internal static string EscapeLike(string text) =>
        text.Replace(LikeEscape, LikeEscape + LikeEscape, StringComparison.Ordinal)
            .Replace("%", LikeEscape + "%", StringComparison.Ordinal)
            .Replace("_", LikeEscape + "_", StringComparison.Ordinal);

    internal static IQueryable<DeadLetter> Filter(
        IQueryable<DeadLetter> letters, string? queue, string? messageType, string? exception, string? fingerprint, DateTimeOffset? from, DateTimeOffset? to, string? q)
    {
        if (queue is not null)
        {
            letters = letters.Where(x => x.SourceQueue == queue || x.TargetQueue == queue);
        }

        if (messageType is not null)
        {
            letters = letters.Where(x => x.MessageType != null && x.MessageType.Contains(messageType));
        }

        if (exception is not null)
        {
            letters = letters.Where(x => x.ExceptionType == exception);
        }

        if (fingerprint is not null)
        {
            letters = letters.Where(x => x.Fingerprint == fingerprint);
        }

        if (from is not null)
        {
            letters = letters.Where(x => x.LastFailedAt >= from);
        }

        if (to is not null)
        {
            letters = letters.Where(x => x.LastFailedAt < to);
        }

        if (q is not null)
        {
            // Escaped: an operator's "100%" or "quota_exceeded" must not widen a filter replay to messages it never typed.
            var pattern = "%" + EscapeLike(q) + "%";
            letters = letters.Where(x => x.ExceptionMessage != null && EF.Functions.ILike(x.ExceptionMessage, pattern, LikeEscape));
        }

        return letters;
    }
}

/// <summary>The list's page cursor: the last row's failure time and message id, base64url so callers treat it as opaque.</summary>
internal static class ListCursor
{
    public static string Format(DateTimeOffset at, Guid id) => TimeKeyCursor.Format(at, id.ToString("N"));

    public static (DateTimeOffset At, Guid Id)? TryParse(string cursor) =>
        TimeKeyCursor.TryParse(cursor) is var (at, key) && Guid.TryParseExact(key, "N", out var id) ? (at, id) : null;
}

/// <summary>The audit's page cursor: the last row's time and id, base64url so callers treat it as opaque.</summary>
internal static class AuditCursor
{
    public static string Format(DateTimeOffset at, long id) => TimeKeyCursor.Format(at, id.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static (DateTimeOffset At, long Id)? TryParse(string cursor) =>
        TimeKeyCursor.TryParse(cursor) is var (at, key)
        && long.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
            ? (at, id)
            : null;
}

/// <summary>A keyset position, "ticks.key" in base64url: the one encoding behind the list's and the audit's cursors.</summary>
internal static class TimeKeyCursor
{
    public static string Format(DateTimeOffset at, string key) =>
        System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.ASCII.GetBytes(
            $"{at.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture)}.{key}"));

    public static (DateTimeOffset At, string Key)? TryParse(string cursor)
    {
        try
        {
            var parts = System.Text.Encoding.ASCII.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(cursor)).Split('.');
            return parts.Length == 2
                && long.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks
                    ? (new DateTimeOffset(ticks, TimeSpan.Zero), parts[1])
                    : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
