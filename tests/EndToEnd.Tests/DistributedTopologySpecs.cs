using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>The hosts as separate processes over the real RabbitMQ and PostgreSQL, as in production.</summary>
public sealed class DistributedTopologySpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private const string GitHubSecret = "end-to-end-github-secret";


    [Fact]
    public async Task A_webhook_posted_to_the_api_process_is_stored_by_the_workers_process()
    {
        var settings = new Dictionary<string, string>(infrastructure.HostSettings())
        {
            ["Backbone:Ingestion:Sources:github:Scheme"] = "GitHub",
            ["Backbone:Ingestion:Sources:github:Secrets:0"] = GitHubSecret,
            // The event's status is read here without a token: this spec is about the topology, not who may read it.
            ["Backbone:Ingestion:PublicEventStatus"] = "true",
        };
        await using var workers = HostProcess.Start("Workers", settings);
        await using var sagas = HostProcess.Start("Sagas", settings);
        await using var api = HostProcess.Start("Ingestion.Api", settings);
        string AllLogs() => string.Join('\n', api.Logs, workers.Logs, sagas.Logs);
        // Workers ready = their queue is declared and bound; a webhook published before that would be dropped.
        await Task.WhenAll(
            workers.WaitUntilReadyAsync(HostProcess.StartTimeout),
            sagas.WaitUntilReadyAsync(HostProcess.StartTimeout),
            api.WaitUntilReadyAsync(HostProcess.StartTimeout));

        const string body = """{"action":"opened"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/github", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Hub-Signature-256", WebhookSigning.Sha256Header(GitHubSecret, body));
        request.Headers.Add("X-GitHub-Event", "issues");
        using var response = await api.Client.SendAsync(request);

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
        // No trace exporter is configured here, yet the trace context still crosses the outbox and the broker: the
        // consumer's line names the trace of the request that accepted the webhook.
        string TraceOf(string output, string marker) => output.Split('\n')
            .Where(line => line.StartsWith('{') && line.Contains(marker, StringComparison.Ordinal))
            .Select(line => JsonDocument.Parse(line).RootElement.TryGetProperty("@tr", out var trace) ? trace.GetString() : null)
            .FirstOrDefault(trace => trace is not null) ?? $"no trace id on the line with {marker}";
        Assert.Equal(TraceOf(api.Output, eventId.ToString()), TraceOf(workers.Output, $"Consumed webhook {eventId}"));
    }
}
