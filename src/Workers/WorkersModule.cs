using EventBackbone.Messaging.Persistence;
using EventBackbone.Workers.Notifications;
using EventBackbone.Workers.Persistence;
using EventBackbone.Workers.Users;
using EventBackbone.Workers.Webhooks;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Workers;

/// <summary>The workers as a module: their own host uses it, and so does the embedded all-in-one host.</summary>
public static class WorkersModule
{
    public const string DatabaseName = "Workers";

    public static IHostApplicationBuilder AddWorkers(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase<WorkersDbContext>(DatabaseName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddNotifications();
        return builder;
    }

    public static void ConfigureBus(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<WebhookReceivedConsumer, WebhookReceivedConsumerDefinition>();
        bus.AddConsumer<CreateUserAccountConsumer, CreateUserAccountConsumerDefinition>();
        bus.AddConsumer<SendNotificationConsumer, SendNotificationConsumerDefinition>();
    }
}
