using EventBackbone.Contracts.Webhooks;
using EventBackbone.Workers.Persistence;
using EventBackbone.Workers.Webhooks;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Workers.Tests;

public sealed class WebhookReceivedConsumerSpecs : IAsyncLifetime
{
    private readonly WorkersHarness _workers = new();

    private ITestHarness Harness => _workers.Harness;

    public Task InitializeAsync() => _workers.StartAsync();

    public async Task DisposeAsync() => await _workers.DisposeAsync();

    [Fact]
    public async Task When_a_webhook_is_received_it_is_stored_in_the_workers_database()
    {
        var webhook = NewWebhook();

        await Harness.Bus.Publish(webhook);

        var consumer = Harness.GetConsumerHarness<WebhookReceivedConsumer>();
        Assert.True(await consumer.Consumed.Any<WebhookReceived>(x => x.Context.Message.EventId == webhook.EventId));
        var stored = await StoredAsync(webhook.EventId);
        Assert.Single(stored);
        Assert.Equal("github", stored[0].Source);
        Assert.Equal("push", stored[0].EventType);
        Assert.Equal(webhook.ReceivedAt, stored[0].ReceivedAt);
        Assert.NotNull(stored[0].MessageId);
    }

    [Fact]
    public async Task When_the_same_webhook_arrives_twice_it_is_stored_once()
    {
        var webhook = NewWebhook();

        await Harness.Bus.Publish(webhook);
        await Harness.Bus.Publish(webhook);

        var consumer = Harness.GetConsumerHarness<WebhookReceivedConsumer>();
        await Harness.InactivityTask;
        Assert.Equal(2, consumer.Consumed.Select<WebhookReceived>(x => x.Context.Message.EventId == webhook.EventId).Count());
        Assert.False(await Harness.Published.Any<Fault<WebhookReceived>>());
        Assert.Single(await StoredAsync(webhook.EventId));
    }

    private static WebhookReceived NewWebhook() => new(
        NewId.NextGuid(), "github", "push", DateTimeOffset.UtcNow.AddSeconds(-1), "application/json", """{"ref":"main"}""");

    private Task<List<InboundWebhook>> StoredAsync(Guid eventId) =>
        _workers.QueryAsync(db => db.InboundWebhooks.Where(x => x.EventId == eventId));
}
