using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace EventBackbone.Console.Api;

/// <summary>
/// The APIs behind the front door, called with the signed-in operator's bearer token (<see cref="OperatorTokenHandler"/>):
/// every service checks its own scopes and audits the operator by name. The console decides nothing the API would not.
/// </summary>
internal sealed class BackboneApi(HttpClient http)
{
    private const string DeadLetters = "api/v1/dead-letters";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<ApiResult<Permissions>> PermissionsAsync(CancellationToken cancellationToken) =>
        GetAsync<Permissions>("api/v1/me/permissions", cancellationToken);

    public Task<ApiResult<Overview>> OverviewAsync(CancellationToken cancellationToken) =>
        GetAsync<Overview>($"{DeadLetters}/overview", cancellationToken);

    public Task<ApiResult<OutboxStatus>> OutboxAsync(string service, CancellationToken cancellationToken) =>
        GetAsync<OutboxStatus>($"api/v1/outbox/{Uri.EscapeDataString(service)}", cancellationToken);

    public Task<ApiResult<IReadOnlyList<DeadLetterGroup>>> GroupsAsync(string? status, MessageFilter filter, CancellationToken cancellationToken) =>
        GetAsync<IReadOnlyList<DeadLetterGroup>>(Query($"{DeadLetters}/groups", Filter(filter).Prepend(("status", status))), cancellationToken);

    public Task<ApiResult<GroupNote>> SaveNoteAsync(string fingerprint, string text, bool investigating, CancellationToken cancellationToken) =>
        SendAsync<GroupNote>(HttpMethod.Put, $"{DeadLetters}/groups/{Uri.EscapeDataString(fingerprint)}/note", new { text, investigating }, cancellationToken);

    public Task<ApiResult<DeadLetterPage>> ListAsync(string? status, MessageFilter filter, string? cursor, int limit, CancellationToken cancellationToken) =>
        GetAsync<DeadLetterPage>(
            Query(DeadLetters, Filter(filter).Prepend(("status", status)).Append(("cursor", cursor)).Append(("limit", limit.ToString(CultureInfo.InvariantCulture)))),
            cancellationToken);

    public Task<ApiResult<DeadLetterDetail>> ShowAsync(Guid messageId, CancellationToken cancellationToken) =>
        GetAsync<DeadLetterDetail>($"{DeadLetters}/{messageId}", cancellationToken);

    /// <summary>Audited by the API as a body read: called only when the operator asks to see it.</summary>
    public Task<ApiResult<MessageBody>> BodyAsync(Guid messageId, CancellationToken cancellationToken) =>
        GetAsync<MessageBody>($"{DeadLetters}/{messageId}/body", cancellationToken);

    public Task<ApiResult<DryRun>> DryRunAsync(ReplaySelection selection, CancellationToken cancellationToken) =>
        SendAsync<DryRun>(HttpMethod.Post, $"{DeadLetters}/replay/dry-run", selection.Body(), cancellationToken);

    public Task<ApiResult<ReplayJob>> ReplayAsync(
        ReplaySelection selection, string? reason, int? canary, int? ratePerSecond, string idempotencyKey, CancellationToken cancellationToken)
    {
        var body = selection.Body();
        body["reason"] = reason;
        body["canary"] = canary;
        body["ratePerSecond"] = ratePerSecond;
        body["idempotencyKey"] = idempotencyKey;
        return SendAsync<ReplayJob>(HttpMethod.Post, $"{DeadLetters}/replay", body, cancellationToken);
    }

    public Task<ApiResult<ReplayJobPage>> JobsAsync(string? status, string? cursor, CancellationToken cancellationToken) =>
        GetAsync<ReplayJobPage>(Query($"{DeadLetters}/replays", [("status", status), ("cursor", cursor)]), cancellationToken);

    public Task<ApiResult<ReplayJob>> JobAsync(Guid jobId, CancellationToken cancellationToken) =>
        GetAsync<ReplayJob>($"{DeadLetters}/replays/{jobId}", cancellationToken);

    public Task<ApiResult<ReplayJobItemPage>> JobItemsAsync(Guid jobId, string? cursor, CancellationToken cancellationToken) =>
        GetAsync<ReplayJobItemPage>(Query($"{DeadLetters}/replays/{jobId}/items", [("cursor", cursor), ("limit", "200")]), cancellationToken);

    public Task<ApiResult<ReplayJob>> CancelJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        SendAsync<ReplayJob>(HttpMethod.Post, $"{DeadLetters}/replays/{jobId}/cancel", null, cancellationToken);

    public Task<ApiResult<ReplayJob>> ResumeJobAsync(Guid jobId, CancellationToken cancellationToken) =>
        SendAsync<ReplayJob>(HttpMethod.Post, $"{DeadLetters}/replays/{jobId}/resume", null, cancellationToken);

    /// <summary>Archive, restore or delete one message; the reason is required by the API (422 "reason").</summary>
    public async Task<ApiResult<BulkResult>> ActOnOneAsync(MessageAction action, Guid messageId, string? reason, CancellationToken cancellationToken)
    {
        var path = $"{DeadLetters}/{messageId}";
        var result = action == MessageAction.Delete
            ? await SendAsync<JsonAnswer>(HttpMethod.Delete, Query(path, [("reason", reason)]), null, cancellationToken)
            : await SendAsync<JsonAnswer>(HttpMethod.Post, $"{path}/{action.ToString().ToLowerInvariant()}", new { reason }, cancellationToken);
        return result.Ok ? new ApiResult<BulkResult>(new BulkResult(1, 1), null) : new ApiResult<BulkResult>(null, result.Problem);
    }

    public Task<ApiResult<BulkResult>> ActOnManyAsync(MessageAction action, BulkSelection selection, string? reason, CancellationToken cancellationToken)
    {
        var body = new Dictionary<string, object?> { ["reason"] = reason };
        if (selection.MessageIds is { Count: > 0 } ids)
        {
            body["messageIds"] = ids;
        }
        else
        {
            body["filter"] = FilterBody(selection.Filter);
            body["status"] = selection.Status;
        }

        return SendAsync<BulkResult>(HttpMethod.Post, $"{DeadLetters}/{action.ToString().ToLowerInvariant()}", body, cancellationToken);
    }

    public Task<ApiResult<EditInfo>> EditInfoAsync(Guid messageId, CancellationToken cancellationToken) =>
        GetAsync<EditInfo>($"{DeadLetters}/{messageId}/edit", cancellationToken);

    public Task<ApiResult<JsonAnswer>> EditAndReplayAsync(Guid messageId, JsonElement message, string? reason, CancellationToken cancellationToken) =>
        SendAsync<JsonAnswer>(HttpMethod.Post, $"{DeadLetters}/{messageId}/edit-and-replay", new { message, reason }, cancellationToken);

    public Task<ApiResult<IReadOnlyList<AuditEntry>>> AuditAsync(IEnumerable<(string Name, string? Value)> filters, CancellationToken cancellationToken) =>
        GetAsync<IReadOnlyList<AuditEntry>>(Query($"{DeadLetters}/audit", filters), cancellationToken);

    /// <summary>A next-page link the API gave (relative to the front door), followed as it is.</summary>
    public Task<ApiResult<IReadOnlyList<AuditEntry>>> AuditPageAsync(string link, CancellationToken cancellationToken) =>
        GetAsync<IReadOnlyList<AuditEntry>>(link, cancellationToken);

    public Task<ApiResult<JsonAnswer>> LookUpAsync(string path, CancellationToken cancellationToken) => GetAsync<JsonAnswer>(path, cancellationToken);

    private static IEnumerable<(string Name, string? Value)> Filter(MessageFilter filter) =>
    [
        ("queue", filter.Queue), ("messageType", filter.MessageType), ("exception", filter.Exception), ("fingerprint", filter.Fingerprint),
        ("from", filter.From?.ToString("O", CultureInfo.InvariantCulture)), ("to", filter.To?.ToString("O", CultureInfo.InvariantCulture)), ("q", filter.Q),
    ];

    internal static Dictionary<string, object?> FilterBody(MessageFilter filter) => new()
    {
        ["queue"] = filter.Queue,
        ["messageType"] = filter.MessageType,
        ["exception"] = filter.Exception,
        ["from"] = filter.From,
        ["to"] = filter.To,
        ["q"] = filter.Q,
    };

    private static string Query(string path, IEnumerable<(string Name, string? Value)> parameters) =>
        QueryHelpers.AddQueryString(path, parameters.Where(x => !string.IsNullOrWhiteSpace(x.Value)).Select(x => new KeyValuePair<string, string?>(x.Name, x.Value)));

    private Task<ApiResult<T>> GetAsync<T>(string path, CancellationToken cancellationToken) => SendAsync<T>(HttpMethod.Get, path, null, cancellationToken);

    private async Task<ApiResult<T>> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: Json);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var content = await response.Content.ReadAsStringAsync(cancellationToken);
            var next = NextLink(response);
            var location = response.Headers.Location?.ToString();
            if (!response.IsSuccessStatusCode)
            {
                return new ApiResult<T>(default, ApiProblem.From((int)response.StatusCode, response.ReasonPhrase, content), next, location);
            }

            if (typeof(T) == typeof(JsonAnswer))
            {
                using var json = JsonDocument.Parse(string.IsNullOrWhiteSpace(content) ? "{}" : content);
                return new ApiResult<T>((T)(object)new JsonAnswer(json.RootElement.Clone()), null, next, location);
            }

            var value = JsonSerializer.Deserialize<T>(content, Json);
            return value is null
                ? new ApiResult<T>(default, new ApiProblem((int)response.StatusCode, "The API answered with no content", null, null, new Dictionary<string, string[]>()))
                : new ApiResult<T>(value, null, next, location);
        }
        catch (HttpRequestException unreachable)
        {
            return new ApiResult<T>(default, ApiProblem.Unreachable(http.BaseAddress!, unreachable.Message));
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ApiResult<T>(default, ApiProblem.Unreachable(http.BaseAddress!, $"no answer within {http.Timeout.TotalSeconds:0} s"));
        }
        catch (JsonException unexpected)
        {
            return new ApiResult<T>(default, new ApiProblem(502, "The API answered in an unexpected shape", unexpected.Message, null, new Dictionary<string, string[]>()));
        }
    }

    /// <summary><c>Link: &lt;…&gt;; rel="next"</c>, as the audit pages its results.</summary>
    private static string? NextLink(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }

        foreach (var link in links.SelectMany(x => x.Split(',')))
        {
            var parts = link.Split(';');
            if (parts.Length > 1 && parts.Skip(1).Any(p => p.Replace(" ", "", StringComparison.Ordinal).Equals("rel=\"next\"", StringComparison.OrdinalIgnoreCase)))
            {
                var target = parts[0].Trim().TrimStart('<').TrimEnd('>');
                // Only a link on the same API: the console never sends the operator's token elsewhere.
                if (Uri.TryCreate(target, UriKind.Absolute, out var absolute))
                {
                    return absolute.PathAndQuery;
                }

                return target;
            }
        }

        return null;
    }
}

internal enum MessageAction
{
    Archive,
    Restore,
    Delete,
}

/// <summary>Which messages a bulk action changes: the ids ticked, or every message matching the filter ("all N matching").</summary>
internal sealed record BulkSelection(IReadOnlyList<Guid>? MessageIds, MessageFilter Filter, string? Status);

/// <summary>A replay's selection: ids, a fingerprint group, or a filter (never empty: the API refuses that).</summary>
internal sealed record ReplaySelection(IReadOnlyList<Guid>? MessageIds, string? Fingerprint, MessageFilter? Filter)
{
    public Dictionary<string, object?> Body()
    {
        var body = new Dictionary<string, object?>();
        if (MessageIds is { Count: > 0 })
        {
            body["messageIds"] = MessageIds;
        }
        else if (Fingerprint is not null)
        {
            body["fingerprint"] = Fingerprint;
        }
        else if (Filter is not null)
        {
            body["filter"] = BackboneApi.FilterBody(Filter);
        }

        return body;
    }
}
