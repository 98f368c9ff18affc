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

public sealed record DeadLetterGroup(
    string Fingerprint, string? ExceptionType, string? MessageType, string? SampleExceptionMessage, int Count, DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt);

/// <param name="Failures">Every failure of this message, oldest first: a replay that failed again adds one.</param>
/// <param name="Replays">Every replay of it (one per failure at most), with who asked and whether the broker confirmed.</param>
/// <param name="InputAddressMismatch">Why its <c>MT-Fault-InputAddress</c> was not believed (it names another queue than the one it was captured for), if so.</param>
public sealed record DeadLetterDetail(
    DeadLetterSummary Summary, Guid? CorrelationId, string? StackTrace, string? ConsumerType, string? Host, string? ContentType, string Body, string Headers,
    IReadOnlyList<FailureRecord> Failures, IReadOnlyList<ReplayRecord> Replays, string? InputAddressMismatch);

public sealed record FailureRecord(DateTimeOffset FailedAt, string SourceQueue, string? ExceptionType, string? ExceptionMessage, string? Host);

public sealed record ReplayRecord(int FailureCount, string Status, string RequestedBy, DateTimeOffset RequestedAt, DateTimeOffset? ConfirmedAt, Guid? JobId);

/// <summary>The operators' read API: <c>/api/v1/dead-letters</c>, scope <c>dead-letters:read</c>. Every body read is audited.</summary>
public static class DeadLetterApi
{
    public const string ReadScope = OperatorScopes.DeadLettersRead;

    /// <summary>One mapping for the list (translated to SQL) and for a single message (compiled once).</summary>
    private static readonly Expression<Func<DeadLetter, DeadLetterSummary>> Summary = x => new DeadLetterSummary(
        x.MessageId, x.SourceQueue, x.TargetQueue, x.Reason, x.MessageType, x.ExceptionType,
        x.ExceptionMessage, x.Fingerprint, x.FailureCount, x.FirstFailedAt, x.LastFailedAt, x.Status);

    private static readonly Func<DeadLetter, DeadLetterSummary> SummaryOf = Summary.Compile();

    public static IEndpointRouteBuilder MapDeadLetterApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/dead-letters").RequireScope(ReadScope).WithTags("Dead letters");
        api.MapGet("/", ListAsync).WithName("ListDeadLetters");
        api.MapGet("/groups", GroupsAsync).WithName("DeadLetterGroups");
        api.MapGet("/audit", AuditAsync).WithName("DeadLetterAudit");
        api.MapGet("/{messageId:guid}", ShowAsync).WithName("ShowDeadLetter");
        // Any other path under the prefix wants a token before it hears "not found": without this, probing for endpoints
        // got 404s that the refused-call audit never saw (and the front door's forwarded refusals were lost the same way).
        endpoints.Map("/api/v1/dead-letters/{**rest}", () => Results.Problem(
                type: "https://eventbackbone.dev/problems/not-found", statusCode: StatusCodes.Status404NotFound, title: "Not found"))
            .RequireAuthorization(policy => policy.AddAuthenticationSchemes(Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerDefaults.AuthenticationScheme).RequireAuthenticatedUser())
            .ExcludeFromDescription();
        return endpoints;
    }

    /// <summary>Filters: <c>queue</c>, <c>messageType</c>, <c>exception</c> (type), <c>fingerprint</c>, <c>from</c>/<c>to</c> (last failure), <c>q</c> (text in the exception message), <c>limit</c> (≤ 500).</summary>
    private static async Task<IResult> ListAsync(
        string? queue, string? messageType, string? exception, string? fingerprint, DateTimeOffset? from, DateTimeOffset? to, string? q, int? limit,
        DeadLettersDbContext db, CancellationToken cancellationToken)
    {
        var letters = Filter(db.DeadLetters.AsNoTracking(), queue, messageType, exception, fingerprint, from, to, q);
        var page = await letters.OrderByDescending(x => x.LastFailedAt).Take(Math.Clamp(limit ?? 100, 1, 500))
            .Select(Summary)
            .ToListAsync(cancellationToken);
        return Results.Ok(page);
    }

    private static async Task<IResult> GroupsAsync(DeadLettersDbContext db, CancellationToken cancellationToken)
    {
        var groups = await db.DeadLetters.AsNoTracking()
            .Where(x => x.Status == "dead")
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
            .OrderByDescending(x => x.Count)
            .ToListAsync(cancellationToken);
        return Results.Ok(groups.Select(x => new DeadLetterGroup(x.Fingerprint, x.ExceptionType, x.MessageType, x.Sample, x.Count, x.First, x.Last)));
    }

    private static async Task<IResult> ShowAsync(Guid messageId, HttpContext context, DeadLettersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var letter = await db.DeadLetters.AsNoTracking().SingleOrDefaultAsync(x => x.MessageId == messageId, cancellationToken);
        if (letter is null)
        {
            return Replay.DeadLetterActions.NotFound(messageId);
        }

        // A body may carry personal data: who read which one is on record.
        db.Audit.Add(new AuditEntry
        {
            At = clock.GetUtcNow(),
            Actor = BackboneAuthentication.CallerId(context.User),
            Action = "read-body",
            MessageId = messageId,
        });
        await db.SaveChangesAsync(cancellationToken);
        var failures = await db.Failures.AsNoTracking().Where(x => x.MessageId == messageId).OrderBy(x => x.FailedAt)
            .Select(x => new FailureRecord(x.FailedAt, x.SourceQueue, x.ExceptionType, x.ExceptionMessage, x.Host))
            .ToListAsync(cancellationToken);
        var replays = await db.ReplayLedger.AsNoTracking().Where(x => x.MessageId == messageId).OrderBy(x => x.FailureCount)
            .Select(x => new ReplayRecord(x.FailureCount, x.Status, x.RequestedBy, x.RequestedAt, x.ConfirmedAt, x.JobId))
            .ToListAsync(cancellationToken);
        return Results.Ok(new DeadLetterDetail(
            SummaryOf(letter),
            letter.CorrelationId, letter.StackTrace, letter.ConsumerType, letter.Host, letter.ContentType,
            System.Text.Encoding.UTF8.GetString(letter.Body), letter.Headers, failures, replays, letter.InputAddressMismatch));
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
                return Results.Problem(type: "https://eventbackbone.dev/problems/invalid-cursor", statusCode: StatusCodes.Status400BadRequest,
                    title: "Invalid cursor", detail: "Use the cursor of a next link exactly as the API gave it.");
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

/// <summary>The audit's page cursor: the last row's time and id, base64url so callers treat it as opaque.</summary>
internal static class AuditCursor
{
    public static string Format(DateTimeOffset at, long id) =>
        System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.ASCII.GetBytes(
            $"{at.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture)}.{id.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));

    public static (DateTimeOffset At, long Id)? TryParse(string cursor)
    {
        try
        {
            var parts = System.Text.Encoding.ASCII.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(cursor)).Split('.');
            return parts.Length == 2
                && long.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks
                && long.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id)
                    ? (new DateTimeOffset(ticks, TimeSpan.Zero), id)
                    : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
