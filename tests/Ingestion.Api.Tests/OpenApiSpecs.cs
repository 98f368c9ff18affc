using System.Net;
using System.Text.Json;

namespace EventBackbone.Ingestion.Api.Tests;

public sealed class OpenApiSpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    [Fact]
    public async Task The_openapi_document_describes_the_webhook_and_event_endpoints_with_their_error_statuses()
    {
        using var client = factory.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        var paths = document.RootElement.GetProperty("paths");
        var accept = paths.GetProperty("/api/v1/webhooks/{source}").GetProperty("post").GetProperty("responses");
        foreach (var status in new[] { "200", "202", "400", "401", "404", "413", "415", "429" })
        {
            Assert.True(accept.TryGetProperty(status, out _), $"POST /api/v1/webhooks/{{source}} documents no {status}.");
        }

        Assert.True(paths.TryGetProperty("/api/v1/events/{eventId}", out _));
    }

    [Fact]
    public async Task The_interactive_docs_are_served_at_docs()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/docs", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("text/html", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
    }
}
