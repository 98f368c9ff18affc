using EventBackbone.Contracts.Notifications;
using EventBackbone.Messaging.Transport;
using EventBackbone.TestInfrastructure;
using EventBackbone.Workers;
using EventBackbone.Workers.Notifications;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Integration.Tests;

/// <summary>Redelivery later, on RabbitMQ without the delayed-exchange plugin: through our durable scheduler.</summary>
public sealed class ScheduledRedeliverySpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    [Fact]
    public async Task A_consumer_fault_its_definition_redelivers_is_consumed_again_later_and_succeeds()
    {
        var provider = new FailingOnceProvider();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(infrastructure.HostSettings()!)
        {
            ["Backbone:Notifications:RedeliveryDelays:0"] = "00:00:01",
        });
        builder.AddWorkers();
        builder.Services.AddSingleton<INotificationProvider>(provider);
        builder.AddBackboneBus(WorkersComposition.ConfigureBus);
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        using var host = builder.Build();
        await host.StartAsync();
        var notification = new SendNotification(NewId.NextGuid(), NewId.NextGuid(), "email", "welcome", "ada@example.com", new Dictionary<string, string>());

        await host.Services.GetRequiredService<IBus>().Publish(notification);

        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Workers").ScalarAsync<long>(
                "SELECT count(*) FROM notifications WHERE notification_id = @id AND status = 'sent'", ("id", notification.NotificationId)) == 1,
            TimeSpan.FromSeconds(30),
            () => $"The redelivered notification was never sent ({provider.Calls} provider calls).");
        Assert.Equal(2, provider.Calls);
        await host.StopAsync();
    }

    private sealed class FailingOnceProvider : INotificationProvider
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<string?> SendAsync(SendNotification notification, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _calls) == 1
                ? throw new NotificationProviderUnavailableException("down for the first call")
                : Task.FromResult<string?>(null);
    }
}
