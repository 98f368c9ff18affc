using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EventBackbone.Cli.Api;

/// <summary>
/// The dead-letter HTTP API. Every failure leaves here as a <see cref="CliException"/> with its exit code, so the
/// commands only handle success.
/// </summary>
public sealed class DeadLetterApiClient
{
    public const string Root = "api/v1/dead-letters";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        // Unset fields are left out: a replay request then holds only the selection the operator made.
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly HttpClient _http;
    private readonly string? _token;

    /// <param name="baseAddress">The API's root, e.g. <c>http://localhost:5083/</c>; a path prefix (behind a proxy) is kept.</param>
    public DeadLetterApiClient(HttpClient http, Uri baseAddress, string? token)
    {
        _http = http;
        BaseAddress = baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
        _token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
    }

    public Uri BaseAddress { get; }

    public Task<ApiResponse> GetAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, path, body: null, cancellationToken);

    public Task<ApiResponse> PostAsync(string path, object body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, body, cancellationToken);

    public Task<ApiResponse> DeleteAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Delete, path, body: null, cancellationToken);

    /// <param name="path">Relative to <see cref="BaseAddress"/> (no leading slash), or an absolute URI such as a Location header.</param>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        var target = new Uri(BaseAddress, path);
        if (Uri.Compare(target, BaseAddress, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
        {
            // A Location or next link is the server's to write; the token is only for the origin the operator gave. A
            // compromised or misconfigured API must not be able to send this tool, token and all, to another host.
            throw new CliException(
                ExitCodes.Unavailable,
                $"the API pointed to {target.GetLeftPart(UriPartial.Authority)}, not to {BaseAddress.GetLeftPart(UriPartial.Authority)}, the origin given: not sending the token there");
        }

        using var request = new HttpRequestMessage(method, target);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (_token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body, Json), Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException unreachable)
        {
            throw new CliException(ExitCodes.Unavailable, $"cannot reach the API at {BaseAddress}: {unreachable.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // HttpClient reports its own timeout as a cancellation nobody asked for.
            throw new CliException(ExitCodes.Unavailable, $"the API at {BaseAddress} did not answer within {_http.Timeout.TotalSeconds:0} s");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw Failure(response.StatusCode, response.ReasonPhrase, text);
            }

            var location = response.Headers.Location is { } where ? new Uri(request.RequestUri!, where) : null;
            return new ApiResponse(response.StatusCode, text, location, NextLink(response, request.RequestUri!));
        }
    }

    /// <summary>Reads a successful answer; an answer that is not the expected JSON means the API is not the one we speak to.</summary>
    public static T Read<T>(ApiResponse response)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(response.Body, Json)
                ?? throw new JsonException("the body is null");
        }
        catch (JsonException unreadable)
        {
            throw new CliException(ExitCodes.Unavailable, $"the API's answer is not the expected JSON: {unreadable.Message}");
        }
    }

    /// <summary>Builds a query string from the values that are set, escaped.</summary>
    public static string Query(params (string Name, string? Value)[] parameters)
    {
        var set = parameters.Where(p => !string.IsNullOrEmpty(p.Value))
            .Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}")
            .ToList();
        return set.Count == 0 ? "" : "?" + string.Join('&', set);
    }

    /// <summary>RFC 8288 <c>Link: &lt;uri&gt;; rel="next"</c>, resolved against the request (the audit's next page).</summary>
    private static Uri? NextLink(HttpResponseMessage response, Uri requestUri)
    {
        if (!response.Headers.TryGetValues("Link", out var values))
        {
            return null;
        }

        foreach (var link in values.SelectMany(value => value.Split(',')))
        {
            var parts = link.Split(';', StringSplitOptions.TrimEntries);
            var target = parts[0];
            if (target.Length > 2 && target[0] == '<' && target[^1] == '>'
                && parts.Skip(1).Any(p => p.Equals("rel=\"next\"", StringComparison.OrdinalIgnoreCase) || p.Equals("rel=next", StringComparison.OrdinalIgnoreCase))
                && Uri.TryCreate(requestUri, target[1..^1], out var next))
            {
                return next;
            }
        }

        return null;
    }

    private static CliException Failure(HttpStatusCode status, string? reasonPhrase, string body)
    {
        var code = (int)status;
        var problem = TryReadProblem(body);
        var title = problem?.Title ?? reasonPhrase ?? status.ToString();
        var message = string.IsNullOrWhiteSpace(problem?.Detail) ? $"{title} (HTTP {code})" : $"{title}: {problem.Detail}";
        var details = (problem?.Errors ?? [])
            .SelectMany(field => field.Value.Select(error => $"  {field.Key}: {error}"))
            .ToList();
        return new CliException(ExitCodes.ForStatus(code), message, details);
    }

    private static Problem? TryReadProblem(string body)
    {
        try
        {
            return string.IsNullOrWhiteSpace(body) ? null : JsonSerializer.Deserialize<Problem>(body, Json);
        }
        catch (JsonException)
        {
            // A proxy's HTML error page, say: the status code alone still tells the operator what happened.
            return null;
        }
    }
}
