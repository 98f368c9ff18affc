using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>The hosts as separate processes over the real RabbitMQ and PostgreSQL, as in production.</summary>
public sealed class DistributedTopologySpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_webhook_posted_to_the_api_process_is_stored_by_the_workers_process()
    {
        var settings = infrastructure.HostSettings();
        await using var workers = HostProcess.Start("Workers", settings);
        await using var sagas = HostProcess.Start("Sagas", settings);
        await using var api = HostProcess.Start("Ingestion.Api", settings);
        string AllLogs() => string.Join('\n', api.Logs, workers.Logs, sagas.Logs);
        // Workers ready = their queue is declared and bound; a webhook published before that would be dropped.
        await Task.WhenAll(
            workers.WaitUntilReadyAsync(StartTimeout),
            sagas.WaitUntilReadyAsync(StartTimeout),
            api.WaitUntilReadyAsync(StartTimeout));

        using var response = await api.Client.PostAsync(
            new Uri("/api/v1/webhooks/github", UriKind.Relative),
            new StringContent("""{"action":"opened"}""", Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"Expected 202, got {(int)response.StatusCode}.\n{AllLogs()}");
        var eventId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetGuid();
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Workers").ScalarAsync<long>(
                "SELECT count(*) FROM inbound_webhooks WHERE event_id = @id", ("id", eventId)) == 1,
            TimeSpan.FromSeconds(30),
            AllLogs);
        var status = await api.Client.GetFromJsonAsync<JsonElement>(response.Headers.Location);
        Assert.Equal("published", status.GetProperty("status").GetString());
        Assert.Contains($"Consumed webhook {eventId}", workers.Output, StringComparison.Ordinal);
    }
}
