using System.Net;
using System.Text;

namespace EventBackbone.Cli.Tests;

/// <summary>One request as the tool sent it; the body is read at send time, before the request is disposed.</summary>
public sealed record RecordedRequest(HttpMethod Method, Uri Uri, string? Authorization, string? Body, string? ContentType)
{
    public string PathAndQuery => Uri.PathAndQuery;
}

/// <summary>
/// The dead-letter API as a queue of canned answers, one per request, in order. A request beyond the queue fails the
/// test: the tool must not call the API more often than the spec expects.
/// </summary>
public sealed class StubApi : HttpMessageHandler
{
    private readonly Queue<Func<HttpRequestMessage, HttpResponseMessage>> _answers = new();

    public List<RecordedRequest> Requests { get; } = [];

    /// <summary>Called before each answer, e.g. to move a test clock on.</summary>
    public Action<RecordedRequest>? OnRequest { get; set; }

    /// <param name="link">An RFC 8288 <c>Link</c> header, e.g. the audit's next page.</param>
    public StubApi Respond(HttpStatusCode status, string? json = null, string? location = null, string contentType = "application/json", string? link = null)
    {
        _answers.Enqueue(_ =>
        {
            var response = new HttpResponseMessage(status);
            if (json is not null)
            {
                response.Content = new StringContent(json, Encoding.UTF8, contentType);
            }

            if (location is not null)
            {
                response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
            }

            if (link is not null)
            {
                response.Headers.Add("Link", link);
            }

            return response;
        });
        return this;
    }

    public StubApi Problem(HttpStatusCode status, string title, string detail, string? errors = null) =>
        Respond(
            status,
            $$"""{"type":"https://eventbackbone.dev/problems/x","title":"{{title}}","status":{{(int)status}},"detail":"{{detail}}"{{(errors is null ? "" : ",\"errors\":" + errors)}}}""",
            contentType: "application/problem+json");

    public StubApi Throw(Exception failure)
    {
        _answers.Enqueue(_ => throw failure);
        return this;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        var recorded = new RecordedRequest(
            request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), body, request.Content?.Headers.ContentType?.MediaType);
        Requests.Add(recorded);
        OnRequest?.Invoke(recorded);
        if (!_answers.TryDequeue(out var answer))
        {
            throw new InvalidOperationException($"Unexpected request {request.Method} {request.RequestUri}: no answer is queued.");
        }

        return answer(request);
    }
}
