using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// SIGTERM in the middle of a burst, as a rolling deployment sends it: the workers host stops taking messages, lets the
/// ones in flight finish, exits 0 — and after a restart every accepted webhook has been consumed exactly once.
/// </summary>
public sealed class GracefulShutdownSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private const string GitHubSecret = "graceful-shutdown-github-secret";
    private const int Burst = 300;

    [Fact]
    public async Task A_host_told_to_stop_during_a_burst_finishes_in_flight_messages_loses_nothing_and_exits_0()
    {
        var settings = new Dictionary<string, string>(infrastructure.HostSettings())
        {
            ["Backbone:Ingestion:Sources:github:Scheme"] = "GitHub",
            ["Backbone:Ingestion:Sources:github:Secrets:0"] = GitHubSecret,
            ["Backbone:Ingestion:Sources:github:RatePerSecond"] = "10000",
            ["Backbone:Ingestion:Sources:github:Burst"] = "10000",
            ["Backbone:ShutdownTimeout"] = "00:00:20",
        };
        await using var api = HostProcess.Start("Ingestion.Api", settings);
        var workers = HostProcess.Start("Workers", settings);
        await Task.WhenAll(api.WaitUntilReadyAsync(HostProcess.StartTimeout), workers.WaitUntilReadyAsync(HostProcess.StartTimeout));
        var store = infrastructure.Database("Workers");
        Task<long> ConsumedAsync() => store.ScalarAsync<long>("SELECT count(*) FROM inbound_webhooks");

        using var gate = new SemaphoreSlim(16);
        var posting = Task.WhenAll(Enumerable.Range(0, Burst).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                return await PostAsync(api, i);
            }
            finally
            {
                gate.Release();
            }
        }));
        await Eventually.HoldsAsync(async () => await ConsumedAsync() >= 30, HostProcess.StartTimeout, () => workers.Logs);
        var exitCode = await workers.TerminateAsync(TimeSpan.FromSeconds(30));
        var consumedAtStop = await ConsumedAsync();
        var accepted = await posting;

        Assert.True(exitCode == 0, $"The workers host exited with {exitCode}.\n{workers.Logs}");
        Assert.InRange(consumedAtStop, 30, Burst - 1);
        // Nothing was cut off: no consume failed or was cancelled on the way down.
        var errors = workers.Output.Split('\n').Where(line => line.Contains("\"@l\":\"Error\"", StringComparison.Ordinal)
            || line.Contains("\"@l\":\"Fatal\"", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, string.Join('\n', errors));
        await using var restarted = HostProcess.Start("Workers", settings);
        await Eventually.HoldsAsync(async () => await ConsumedAsync() == Burst, HostProcess.StartTimeout, () => restarted.Logs);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(Burst, await ConsumedAsync());
        Assert.Equal(accepted.Order(), (await EventIdsAsync(store)).Order());
        await workers.DisposeAsync();
    }

    private static async Task<Guid> PostAsync(HostProcess api, int index)
    {
        var body = $$"""{"ref":"refs/heads/main","after":"{{index}}"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/github", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Hub-Signature-256", WebhookSigning.Sha256Header(GitHubSecret, body));
        request.Headers.Add("X-GitHub-Event", "push");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        using var response = await api.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetGuid();
    }

    private static async Task<List<Guid>> EventIdsAsync(ScratchDatabase store)
    {
        await using var connection = new Npgsql.NpgsqlConnection(store.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT event_id FROM inbound_webhooks", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<Guid>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }
}
