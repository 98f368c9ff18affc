using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// The operators' console's home-screen calls in embedded mode: one process serves permissions and every service's
/// outbox status, and since nothing there has a database outbox, each says so instead of failing or claiming "all sent".
/// </summary>
public sealed class EmbeddedOperatorEndpointsSpecs
{
    [Fact]
    public async Task In_embedded_mode_permissions_and_every_outbox_status_are_served_in_process_and_say_the_outbox_is_not_durable()
    {
        await using var backbone = HostProcess.Start("Embedded", new Dictionary<string, string>());
        await backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);
        await using var mint = HostProcess.StartAssembly("dev-token", RepositoryLayout.HostAssembly("Embedded"), new Dictionary<string, string>(),
            ["dev-token", "--scope", "dead-letters:read", "--subject", "embedded-operator"]);
        Assert.Equal(0, await mint.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var token = mint.Output.Trim();

        var permissions = await GetAsync(backbone, "/api/v1/me/permissions", token);
        Assert.Equal("embedded-operator", permissions.GetProperty("caller").GetString());
        Assert.True(permissions.GetProperty("can").GetProperty("read").GetBoolean());
        foreach (var service in new[] { "ingestion", "workers", "sagas" })
        {
            var status = await GetAsync(backbone, $"/api/v1/outbox/{service}", token);
            Assert.Equal(service, status.GetProperty("service").GetString());
            Assert.False(status.GetProperty("durable").GetBoolean());
            Assert.Equal(0, status.GetProperty("pending").GetInt32());
        }

        // One process, one contract: its OpenAPI document names every one of them.
        using var document = JsonDocument.Parse(await backbone.Client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
        var paths = document.RootElement.GetProperty("paths");
        foreach (var path in new[] { "/api/v1/me/permissions", "/api/v1/outbox/ingestion", "/api/v1/outbox/workers", "/api/v1/outbox/sagas" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"the embedded OpenAPI document has no {path}");
        }
    }

    private static async Task<JsonElement> GetAsync(HostProcess backbone, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await backbone.Client.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode}\n{backbone.Logs}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
