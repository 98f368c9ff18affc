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

    [Theory]
    [InlineData("request-signup", "commands:signup", "email")]
    [InlineData("verify-email", "commands:verify-email", "signupId")]
    [InlineData("publish-event", "commands:publish", "messageType")]
    public async Task The_openapi_document_describes_each_command_with_its_body_scope_and_errors(string command, string scope, string field)
    {
        using var client = factory.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        var root = document.RootElement;
        var post = root.GetProperty("paths").GetProperty($"/api/v1/commands/{command}").GetProperty("post");
        foreach (var status in new[] { "202", "400", "401", "403", "413", "415", "422", "503" })
        {
            Assert.True(post.GetProperty("responses").TryGetProperty(status, out _), $"{command} documents no {status}.");
        }

        Assert.Contains(post.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "Idempotency-Key");
        var schema = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        // The generator inlines a schema or refers to components/schemas, depending on what it met first.
        if (schema.TryGetProperty("$ref", out var reference))
        {
            schema = root.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        }

        Assert.True(schema.GetProperty("properties").TryGetProperty(field, out _));
        Assert.Equal(scope, post.GetProperty("security")[0].GetProperty("Bearer")[0].GetString());
        Assert.Equal("bearer", root.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer").GetProperty("scheme").GetString());
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
