using EventBackbone.Contracts.Webhooks;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Integration.Tests;

public sealed class WorkersOverRabbitMqSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    [Fact]
    public async Task A_published_webhook_is_stored_in_the_workers_postgres_database()
    {
        using var host = await WorkersHost.StartAsync(infrastructure);
        var webhook = NewWebhook();

        await host.Services.GetRequiredService<IBus>().Publish(webhook);

        await Eventually.HoldsAsync(
            async () => await StoredCountAsync(webhook.EventId) == 1,
            TimeSpan.FromSeconds(30),
            () => "The webhook never reached inbound_webhooks.");
        var source = await infrastructure.Database("Workers").ScalarAsync<string>(
            "SELECT source FROM inbound_webhooks WHERE event_id = @id", ("id", webhook.EventId));
        Assert.Equal("github", source);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_webhook_delivered_twice_is_stored_once()
    {
        using var host = await WorkersHost.StartAsync(infrastructure);
        var bus = host.Services.GetRequiredService<IBus>();
        var webhook = NewWebhook();
        var consumed = new ConsumeCounter(webhook.EventId);
        using var observer = bus.ConnectConsumeMessageObserver(consumed);

        await bus.Publish(webhook);
        await bus.Publish(webhook);

        await Eventually.HoldsAsync(
            () => Task.FromResult(consumed.Count == 2),
            TimeSpan.FromSeconds(30),
            () => $"Consumed {consumed.Count} of 2 deliveries.");
        Assert.Equal(1, await StoredCountAsync(webhook.EventId));
        await host.StopAsync();
    }

    private Task<long> StoredCountAsync(Guid eventId) =>
        infrastructure.Database("Workers").ScalarAsync<long>(
            "SELECT count(*) FROM inbound_webhooks WHERE event_id = @id", ("id", eventId));

    private static WebhookReceived NewWebhook() => new(
        NewId.NextGuid(), "github", "push", DateTimeOffset.UtcNow, "application/json", """{"ref":"main"}""");

    private sealed class ConsumeCounter(Guid eventId) : IConsumeMessageObserver<WebhookReceived>
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task PreConsume(ConsumeContext<WebhookReceived> context) => Task.CompletedTask;

        public Task PostConsume(ConsumeContext<WebhookReceived> context)
        {
            // Only the deliveries to the consumer under test: the Integrations and Reporting modules consume it too.
            if (context.Message.EventId == eventId
                && context.ReceiveContext.InputAddress.AbsolutePath.EndsWith("/webhook-received", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _count);
            }

            return Task.CompletedTask;
        }

        public Task ConsumeFault(ConsumeContext<WebhookReceived> context, Exception exception) => Task.CompletedTask;
    }
}
