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
    private readonly ServiceProvider _provider;
    private readonly ITestHarness _harness;

    public WebhookReceivedConsumerSpecs()
    {
        var database = $"workers-{Guid.NewGuid():N}";
        _provider = new ServiceCollection()
            .AddDbContext<WorkersDbContext>(options => options.UseInMemoryDatabase(database))
            .AddSingleton(TimeProvider.System)
            .AddMassTransitTestHarness(WorkersModule.ConfigureBus)
            .BuildServiceProvider(validateScopes: true);
        _harness = _provider.GetRequiredService<ITestHarness>();
    }

    public Task InitializeAsync() => _harness.Start();

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    [Fact]
    public async Task When_a_webhook_is_received_it_is_stored_in_the_workers_database()
    {
        var webhook = NewWebhook();

        await _harness.Bus.Publish(webhook);

        var consumer = _harness.GetConsumerHarness<WebhookReceivedConsumer>();
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

        await _harness.Bus.Publish(webhook);
        await _harness.Bus.Publish(webhook);

        var consumer = _harness.GetConsumerHarness<WebhookReceivedConsumer>();
        await _harness.InactivityTask;
        Assert.Equal(2, consumer.Consumed.Select<WebhookReceived>(x => x.Context.Message.EventId == webhook.EventId).Count());
        Assert.False(await _harness.Published.Any<Fault<WebhookReceived>>());
        Assert.Single(await StoredAsync(webhook.EventId));
    }

    private static WebhookReceived NewWebhook() => new(
        NewId.NextGuid(), "github", "push", DateTimeOffset.UtcNow.AddSeconds(-1), "application/json", """{"ref":"main"}""");

    private async Task<List<InboundWebhook>> StoredAsync(Guid eventId)
    {
        await using var scope = _provider.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<WorkersDbContext>();
        return await db.InboundWebhooks.Where(x => x.EventId == eventId).ToListAsync();
    }
}
