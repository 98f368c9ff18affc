using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Transport;
using EventBackbone.Workers.Integrations;
using EventBackbone.Workers.Notifications;
using EventBackbone.Workers.Persistence;
using EventBackbone.Workers.Reporting;
using EventBackbone.Workers.Users;
using EventBackbone.Workers.Webhooks;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Workers;

/// <summary>The workers as a module: their own host uses it, and so does the embedded all-in-one host.</summary>
public static class WorkersModule
{
    public const string DatabaseName = "Workers";

    public static IHostApplicationBuilder AddWorkers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(WorkerModules.Load(builder.Configuration));
        builder.AddServiceDatabase<WorkersDbContext>(DatabaseName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddNotifications();
        builder.Services.AddSingleton(IntegrationSettings.Load(builder.Configuration));
        return builder;
    }

    /// <summary>Only the enabled modules' consumers: a disabled module gets no queue, so its messages wait for its own deployment.</summary>
    public static void ConfigureBus(IBusRegistrationConfigurator bus)
    {
        // AddWorkers registered the instance; test harnesses that compose only the bus get every module.
        var modules = bus.InstancesOf<WorkerModules>().SingleOrDefault() ?? new WorkerModules(WorkerModule.All);
        if (modules.Has(WorkerModule.Webhooks))
        {
            bus.AddConsumer<WebhookReceivedConsumer, WebhookReceivedConsumerDefinition>();
        }

        if (modules.Has(WorkerModule.Users))
        {
            bus.AddConsumer<CreateUserAccountConsumer, CreateUserAccountConsumerDefinition>();
        }

        if (modules.Has(WorkerModule.Notifications))
        {
            bus.AddConsumer<SendNotificationConsumer, SendNotificationConsumerDefinition>();
        }

        if (modules.Has(WorkerModule.Integrations))
        {
            bus.AddConsumer<WebhookTranslationConsumer, WebhookTranslationConsumerDefinition>();
        }

        if (modules.Has(WorkerModule.Reporting))
        {
            bus.AddConsumer<SignupFunnelConsumer, SignupFunnelConsumerDefinition>();
            bus.AddConsumer<WebhookVolumeConsumer, WebhookVolumeConsumerDefinition>();
        }
    }

    public static WebApplication MapWorkersEndpoints(this WebApplication app)
    {
        app.MapOutboxStatus<WorkersDbContext>("workers");
        if (app.Services.GetRequiredService<WorkerModules>().Has(WorkerModule.Reporting))
        {
            app.MapReportEndpoints();
        }

        return app;
    }
}
