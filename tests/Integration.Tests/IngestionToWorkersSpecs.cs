extern alias IngestionApi;

using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Integration.Tests;

/// <summary>The first message end to end, in-process: API → PostgreSQL → RabbitMQ → workers → their PostgreSQL.</summary>
public sealed class IngestionToWorkersSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    [Fact]
    public async Task A_posted_webhook_is_recorded_by_the_api_and_stored_by_the_workers()
    {
        using var workers = await WorkersHost.StartAsync(infrastructure);
        await using var api = StartApi();
        using var client = api.CreateClient();

        using var response = await client.SendAsync(GitHubDelivery("""{"zen":"Keep it logically awesome."}""", Guid.NewGuid().ToString()));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var eventId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetGuid();
        var recorded = await infrastructure.Database("Ingestion").ScalarAsync<long>(
            "SELECT count(*) FROM webhook_receipts WHERE event_id = @id", ("id", eventId));
        Assert.Equal(1, recorded);
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Workers").ScalarAsync<long>(
                "SELECT count(*) FROM inbound_webhooks WHERE event_id = @id", ("id", eventId)) == 1,
            TimeSpan.FromSeconds(30),
            () => "The accepted webhook never reached the workers' database.");
        await Eventually.HoldsAsync(
            async () => (await client.GetFromJsonAsync<JsonElement>(response.Headers.Location)).GetProperty("status").GetString() == "published",
            TimeSpan.FromSeconds(10),
            () => "The event's status never became 'published'.");
        Assert.Equal(0, await infrastructure.Database("Ingestion").ScalarAsync<long>("SELECT count(*) FROM outbox_messages"));
        await workers.StopAsync();
    }

    [Fact]
    public async Task The_same_delivery_posted_50_times_at_once_is_accepted_once_and_published_once()
    {
        using var workers = await WorkersHost.StartAsync(infrastructure);
        await using var api = StartApi();
        using var client = api.CreateClient();
        var delivery = Guid.NewGuid().ToString();
        var body = $$"""{"action":"race","delivery":"{{delivery}}"}""";

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.SendAsync(GitHubDelivery(body, delivery))));

        Assert.All(responses, response => Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}"));
        Assert.Single(responses, response => response.StatusCode == HttpStatusCode.Accepted);
        var eventIds = await Task.WhenAll(responses.Select(async r => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetGuid()));
        Assert.Single(eventIds.Distinct());
        Assert.Equal(1, await infrastructure.Database("Ingestion").ScalarAsync<long>(
            "SELECT count(*) FROM webhook_receipts WHERE dedupe_key = @delivery", ("delivery", delivery)));
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Workers").ScalarAsync<long>(
                "SELECT count(*) FROM inbound_webhooks WHERE event_id = @id", ("id", eventIds[0])) == 1,
            TimeSpan.FromSeconds(30),
            () => "The accepted delivery never reached the workers.");
        // Long enough for a second publish to have arrived, had there been one.
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await infrastructure.Database("Workers").ScalarAsync<long>("SELECT count(*) FROM inbound_webhooks"));
        foreach (var response in responses)
        {
            response.Dispose();
        }

        await workers.StopAsync();
    }

    // The event's status is read here without a token: these specs are about the pipeline, not who may read it.
    private WebApplicationFactory<IngestionApi::Program> StartApi() =>
        IngestionApiHost.Start(new Dictionary<string, string>(infrastructure.HostSettings()) { ["Backbone:Ingestion:PublicEventStatus"] = "true" });

    private static HttpRequestMessage GitHubDelivery(string body, string delivery) => IngestionApiHost.GitHubDelivery(body, delivery);
}
