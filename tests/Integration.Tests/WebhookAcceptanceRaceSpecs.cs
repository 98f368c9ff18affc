extern alias IngestionApi;
using System.Text;
using EventBackbone.TestInfrastructure;
using IngestionApi::EventBackbone.Ingestion.Api.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Integration.Tests;

/// <summary>The race the dedupe check cannot see: a copy commits between our check and our commit.</summary>
public sealed class WebhookAcceptanceRaceSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    [Fact]
    public async Task A_batch_that_collides_with_a_concurrent_copy_answers_that_copy_as_duplicate_and_still_accepts_the_rest()
    {
        await using var api = IngestionApiHost.Start(infrastructure.HostSettings());
        using var client = api.CreateClient();
        var raced = Guid.NewGuid().ToString();
        var innocent = Guid.NewGuid().ToString();
        var winner = Guid.NewGuid();

        // Another instance inserts the same delivery and has not committed yet: our check cannot see it, our insert waits.
        await using var other = new NpgsqlConnection(infrastructure.Database("Ingestion").ConnectionString);
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO webhook_receipts (event_id, source, dedupe_key, content_type, body, received_at) VALUES (@id, 'github', @key, 'application/json', '\\x7b7d', now())",
            other, transaction))
        {
            insert.Parameters.AddWithValue("id", winner);
            insert.Parameters.AddWithValue("key", raced);
            await insert.ExecuteNonQueryAsync();
        }

        await using var scope = api.Services.CreateAsyncScope();
        var recorder = scope.ServiceProvider.GetRequiredService<WebhookRecorder>();
        var accepting = Task.WhenAll(recorder.Record([Webhook(innocent), Webhook(raced)], CancellationToken.None));
        await Task.Delay(500);
        Assert.False(accepting.IsCompleted, "The batch should be waiting on the other transaction's uncommitted row.");
        await transaction.CommitAsync();
        var results = await accepting;

        Assert.False(results[0].Duplicate);
        Assert.Equal(new RecordedWebhook(winner, Duplicate: true), results[1]);
        Assert.Equal(1, await infrastructure.Database("Ingestion").ScalarAsync<long>(
            "SELECT count(*) FROM webhook_receipts WHERE dedupe_key = @key", ("key", innocent)));
        Assert.Equal(1, await infrastructure.Database("Ingestion").ScalarAsync<long>(
            "SELECT count(*) FROM webhook_receipts WHERE dedupe_key = @key", ("key", raced)));
    }

    [Fact]
    public async Task A_webhook_that_fails_alone_does_not_hide_that_the_others_of_its_call_committed()
    {
        await using var api = IngestionApiHost.Start(infrastructure.HostSettings());
        using var client = api.CreateClient();
        var committed = Guid.NewGuid().ToString();
        await using var scope = api.Services.CreateAsyncScope();
        var recorder = scope.ServiceProvider.GetRequiredService<WebhookRecorder>();
        // Longer than the column allows: a data error of this webhook's own row, so only it fails.
        var refused = Webhook(Guid.NewGuid().ToString()) with { ContentType = new string('x', 5000) };

        var results = recorder.Record([Webhook(committed), refused], CancellationToken.None);

        await Assert.ThrowsAsync<PostgresException>(() => results[1]);
        var accepted = await results[0];
        Assert.False(accepted.Duplicate);
        Assert.Equal(accepted.EventId, await infrastructure.Database("Ingestion").ScalarAsync<Guid>(
            "SELECT event_id FROM webhook_receipts WHERE dedupe_key = @key", ("key", committed)));
    }

    private static VerifiedWebhook Webhook(string delivery) =>
        new("github", "push", delivery, "application/json", Encoding.UTF8.GetBytes($$"""{"delivery":"{{delivery}}"}"""));
}
