using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace EventBackbone.Ingestion.Api.Tests;

internal static class ProblemAssert
{
    /// <summary>
    /// An RFC 9457 problem of the given status and type, carrying the same request id as the response header
    /// (the id a sender quotes to support).
    /// </summary>
    public static async Task<JsonElement> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status, string problem)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"https://eventbackbone.dev/problems/{problem}", body.GetProperty("type").GetString());
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        Assert.Equal(requestId, body.GetProperty("requestId").GetString());
        return body;
    }
}
