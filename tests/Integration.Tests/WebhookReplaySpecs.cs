extern alias IngestionApi;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;
using IngestionApi::EventBackbone.Ingestion.Api.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Integration.Tests;

/// <summary>
/// A GitHub signature covers the body only, and X-GitHub-Delivery is not signed: a captured body and signature, resent
/// under a new delivery id, must be answered as the original for the duplicate window, not published again.
/// </summary>
public sealed class WebhookReplaySpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    [Fact]
    public async Task A_captured_github_delivery_resent_with_a_new_delivery_id_is_answered_200_with_the_original_event_id_and_stored_once()
    {
        await using var api = IngestionApiHost.Start(infrastructure.HostSettings());
        using var client = api.CreateClient();
        var body = $$"""{"zen":"{{Guid.NewGuid()}}"}""";

        using var original = await client.SendAsync(IngestionApiHost.GitHubDelivery(body, Guid.NewGuid().ToString()));
        using var replayed = await client.SendAsync(IngestionApiHost.GitHubDelivery(body, Guid.NewGuid().ToString()));

        Assert.Equal(HttpStatusCode.Accepted, original.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
        Assert.Equal(await EventIdAsync(original), await EventIdAsync(replayed));
        // A new event is a receipt and its outbox row, committed together: one receipt means one publish.
        Assert.Equal(1, await infrastructure.Database("Ingestion").ScalarAsync<long>(
            "SELECT count(*) FROM webhook_receipts WHERE body = @body", ("body", Encoding.UTF8.GetBytes(body))));
    }

    [Fact]
    public async Task A_batch_that_collides_with_a_concurrent_copy_of_a_body_answers_it_as_that_copy_and_still_accepts_the_rest()
    {
        await using var api = IngestionApiHost.Start(infrastructure.HostSettings());
        using var client = api.CreateClient();
        var raced = Webhook($$"""{"raced":"{{Guid.NewGuid()}}"}""");
        var innocent = Webhook($$"""{"innocent":"{{Guid.NewGuid()}}"}""");
        var winner = Guid.NewGuid();

        // Another instance accepted the same body and has not committed yet: our lookup cannot see it, our insert waits.
        await using var other = new NpgsqlConnection(infrastructure.Database("Ingestion").ConnectionString);
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO webhook_body_digests (source, body_sha256, event_id, received_at) VALUES ('github', @digest, @id, now())", other, transaction))
        {
            insert.Parameters.AddWithValue("digest", SHA256.HashData(raced.Body));
            insert.Parameters.AddWithValue("id", winner);
            await insert.ExecuteNonQueryAsync();
        }

        await using var scope = api.Services.CreateAsyncScope();
        var accepting = Task.WhenAll(scope.ServiceProvider.GetRequiredService<WebhookRecorder>().Record([innocent, raced], CancellationToken.None));
        await Task.Delay(500);
        Assert.False(accepting.IsCompleted, "The batch should be waiting on the other transaction's uncommitted digest.");
        await transaction.CommitAsync();
        var results = await accepting;

        Assert.False(results[0].Duplicate);
        Assert.Equal(new RecordedWebhook(winner, Duplicate: true), results[1]);
        Assert.Equal(0, await infrastructure.Database("Ingestion").ScalarAsync<long>(
            "SELECT count(*) FROM webhook_receipts WHERE body = @body", ("body", raced.Body)));
    }

    [Fact]
    public async Task A_body_first_accepted_longer_ago_than_the_duplicate_window_is_a_new_event_again()
    {
        await using var api = IngestionApiHost.Start(infrastructure.HostSettings());
        using var client = api.CreateClient();
        var body = $$"""{"zen":"{{Guid.NewGuid()}}"}""";
        var database = infrastructure.Database("Ingestion");
        using var first = await client.SendAsync(IngestionApiHost.GitHubDelivery(body, Guid.NewGuid().ToString()));
        var firstId = await EventIdAsync(first);
        var window = api.Services.GetRequiredService<WebhookIngestionSettings>().DuplicateWindow;
        await database.ScalarAsync<int>(
            "UPDATE webhook_body_digests SET received_at = now() - @age WHERE event_id = @id",
            ("age", window + TimeSpan.FromMinutes(1)), ("id", firstId));

        using var later = await client.SendAsync(IngestionApiHost.GitHubDelivery(body, Guid.NewGuid().ToString()));
        using var replayed = await client.SendAsync(IngestionApiHost.GitHubDelivery(body, Guid.NewGuid().ToString()));

        Assert.Equal(HttpStatusCode.Accepted, later.StatusCode);
        var laterId = await EventIdAsync(later);
        Assert.NotEqual(firstId, laterId);
        // The window starts again from the later event.
        Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
        Assert.Equal(laterId, await EventIdAsync(replayed));
    }

    private static async Task<Guid> EventIdAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetGuid();

    private static VerifiedWebhook Webhook(string body) =>
        new("github", "push", Guid.NewGuid().ToString(), "application/json", Encoding.UTF8.GetBytes(body)) { DeduplicateByBody = true };
}
