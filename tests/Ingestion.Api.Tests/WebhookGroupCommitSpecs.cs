using System.Text;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Ingestion.Api.Webhooks;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Ingestion.Api.Tests;

public sealed class WebhookGroupCommitSpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    [Fact]
    public async Task Copies_of_one_delivery_in_the_same_batch_are_accepted_once_and_answered_with_one_event_id()
    {
        var delivery = Guid.NewGuid().ToString();
        var other = Guid.NewGuid().ToString();
        await using var scope = factory.Services.CreateAsyncScope();
        var recorder = scope.ServiceProvider.GetRequiredService<WebhookRecorder>();

        var results = await Task.WhenAll(recorder.Record([Webhook(delivery), Webhook(other), Webhook(delivery)], CancellationToken.None));

        Assert.Equal([false, false, true], results.Select(x => x.Duplicate));
        Assert.Equal(results[0].EventId, results[2].EventId);
        Assert.NotEqual(results[0].EventId, results[1].EventId);
        var harness = factory.Services.GetRequiredService<ITestHarness>();
        Assert.True(await harness.Published.Any<WebhookReceived>(x => x.Context.Message.EventId == results[1].EventId));
        Assert.Single(harness.Published.Select<WebhookReceived>(x => x.Context.Message.EventId == results[0].EventId));
    }

    [Fact]
    public async Task Concurrent_requests_are_each_answered_with_their_own_event_id()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            // One scope per request, as the endpoint gets.
            await using var scope = factory.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<WebhookRecorder>().RecordAsync(Webhook($"concurrent-{Guid.NewGuid()}-{i}"), CancellationToken.None);
        }));

        Assert.All(results, x => Assert.False(x.Duplicate));
        Assert.Equal(40, results.Select(x => x.EventId).Distinct().Count());
    }

    private static VerifiedWebhook Webhook(string delivery) =>
        new("shop", null, delivery, "application/json", Encoding.UTF8.GetBytes($$"""{"delivery":"{{delivery}}"}"""));
}
