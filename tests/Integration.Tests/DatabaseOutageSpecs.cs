using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Integration.Tests;

/// <summary>
/// PostgreSQL goes away under load and comes back: every request is either accepted (202, and later published) or
/// refused (503 with Retry-After, and never published) — nothing accepted is lost, nothing refused sneaks out.
/// </summary>
public sealed class DatabaseOutageSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private sealed record Outcome(string Marker, HttpStatusCode Status, Guid? EventId, string? RetryAfter, string? ProblemType, DateTime At);

    [Fact]
    public async Task While_PostgreSQL_is_stopped_webhooks_get_503_and_none_of_them_is_published_and_no_202_is_lost()
    {
        var postgres = ExpendablePostgres.FromEnvironment();
        using var turn = await ExpendablePostgres.AcquireAsync();
        await postgres.EnsureRunningAsync();
        await using var ingestionDatabase = await ScratchDatabase.CreateAsync(postgres.Settings, "ingestion_outage");
        var settings = new Dictionary<string, string>(infrastructure.HostSettings())
        {
            // Short connect timeout: while the server is down a request fails fast instead of hanging 15 s.
            ["ConnectionStrings:Ingestion"] = ingestionDatabase.ConnectionString + ";Timeout=3",
        };
        using var workers = await WorkersHost.StartAsync(infrastructure);
        await using var api = IngestionApiHost.Start(settings);
        using var client = api.CreateClient();
        var outcomes = new ConcurrentBag<Outcome>();
        using var stopSending = new CancellationTokenSource();

        // Four senders, as a few concurrent webhook senders would be, each delivery unique.
        var senders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stopSending.IsCancellationRequested)
            {
                var marker = Guid.NewGuid().ToString("N");
                using var response = await client.SendAsync(IngestionApiHost.GitHubDelivery($$"""{"marker":"{{marker}}"}""", marker));
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                outcomes.Add(new Outcome(
                    marker,
                    response.StatusCode,
                    body.TryGetProperty("eventId", out var id) ? id.GetGuid() : null,
                    response.Headers.RetryAfter?.ToString(),
                    body.TryGetProperty("type", out var type) ? type.GetString() : null,
                    DateTime.UtcNow));
                await Task.Delay(20);
            }
        })).ToArray();

        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            await postgres.StopAsync();
            var stoppedAt = DateTime.UtcNow;
            await Task.Delay(TimeSpan.FromSeconds(3));
            await postgres.StartAsync();
            var restartedAt = DateTime.UtcNow;
            await Eventually.HoldsAsync(
                () => Task.FromResult(outcomes.Any(x => x.At > restartedAt && x.Status == HttpStatusCode.Accepted)),
                TimeSpan.FromSeconds(30),
                () => "No webhook was accepted again after PostgreSQL came back.");
            await stopSending.CancelAsync();
            await Task.WhenAll(senders);

            Assert.All(outcomes, x => Assert.True(
                x.Status is HttpStatusCode.Accepted or HttpStatusCode.ServiceUnavailable, $"{x.Marker} got {(int)x.Status}"));
            Assert.Contains(outcomes, x => x.Status == HttpStatusCode.Accepted && x.At < stoppedAt);
            var refused = outcomes.Where(x => x.Status == HttpStatusCode.ServiceUnavailable).ToList();
            Assert.NotEmpty(refused);
            Assert.All(refused, x =>
            {
                Assert.Equal("https://eventbackbone.dev/problems/database-unavailable", x.ProblemType);
                Assert.Equal("5", x.RetryAfter);
            });

            // Every 202 arrives at the workers, through the outbox that itself lived through the outage.
            var accepted = outcomes.Where(x => x.Status == HttpStatusCode.Accepted).ToList();
            await Eventually.HoldsAsync(
                async () => await infrastructure.Database("Workers").ScalarAsync<long>("SELECT count(*) FROM inbound_webhooks") >= accepted.Count,
                TimeSpan.FromSeconds(60),
                () => $"Of {accepted.Count} accepted webhooks not all reached the workers.");
            // Long enough for a straggler published from a refused request to arrive, had there been one.
            await Task.Delay(TimeSpan.FromSeconds(2));
            // Exactly the accepted events were published: none lost, and none from a refused request.
            var delivered = await ColumnAsync<Guid>(infrastructure.Database("Workers").ConnectionString, "SELECT event_id FROM inbound_webhooks");
            Assert.Equal(accepted.Select(x => x.EventId!.Value).Order(), delivered.Order());
            // And a refused request left nothing behind that a later retry of it would be deduplicated against.
            var received = await ColumnAsync<string>(ingestionDatabase.ConnectionString, "SELECT dedupe_key FROM webhook_receipts");
            Assert.Equal(accepted.Select(x => x.Marker).Order(StringComparer.Ordinal), received.Order(StringComparer.Ordinal));
        }
        finally
        {
            await stopSending.CancelAsync();
            await postgres.EnsureRunningAsync();
            await workers.StopAsync();
        }
    }

    private static async Task<List<T>> ColumnAsync<T>(string connectionString, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<T>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }
}
