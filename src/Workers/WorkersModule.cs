using EventBackbone.Messaging.Persistence;
using EventBackbone.Workers.Integrations;
using EventBackbone.Workers.Notifications;
using EventBackbone.Workers.Persistence;
using EventBackbone.Workers.Reporting;
using EventBackbone.Workers.Users;
using EventBackbone.Workers.Webhooks;
using MassTransit;
using Microsoft.AspNetCore.Builder;
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
        builder.Services.AddSingleton(IntegrationSettings.Load(builder.Configuration));
        return builder;
    }

    public static void ConfigureBus(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<WebhookReceivedConsumer, WebhookReceivedConsumerDefinition>();
        bus.AddConsumer<CreateUserAccountConsumer, CreateUserAccountConsumerDefinition>();
        bus.AddConsumer<SendNotificationConsumer, SendNotificationConsumerDefinition>();
        bus.AddConsumer<WebhookTranslationConsumer, WebhookTranslationConsumerDefinition>();
        bus.AddConsumer<SignupFunnelConsumer, SignupFunnelConsumerDefinition>();
        bus.AddConsumer<WebhookVolumeConsumer, WebhookVolumeConsumerDefinition>();
    }

    public static WebApplication MapWorkersEndpoints(this WebApplication app)
    {
        app.MapReportEndpoints();
        return app;
    }
}
