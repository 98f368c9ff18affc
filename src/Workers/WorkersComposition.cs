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

/// <summary>
/// How the Workers service is composed into a host (its database, settings, consumers, endpoints): its own host uses
/// it, and so does the embedded all-in-one host. Which of its modules run is <see cref="EnabledWorkerModules"/>.
/// </summary>
public static class WorkersComposition
{
    public const string DatabaseName = "Workers";

    public static IHostApplicationBuilder AddWorkers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(EnabledWorkerModules.Load(builder.Configuration));
        builder.AddServiceDatabase<WorkersDbContext>(DatabaseName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.AddNotifications();
        builder.Services.AddSingleton(IntegrationSettings.Load(builder.Configuration));
        return builder;
    }

    /// <summary>
    /// Each module's consumers, one line per module: a new module is its <see cref="WorkerModule"/> flag and one line
    /// here, with no block copied from another.
    /// </summary>
    private static readonly (WorkerModule Module, Action<IBusRegistrationConfigurator> AddConsumers)[] Consumers =
    [
        (WorkerModule.Webhooks, bus => bus.AddConsumer<WebhookReceivedConsumer, WebhookReceivedConsumerDefinition>()),
        (WorkerModule.Users, bus => bus.AddConsumer<CreateUserAccountConsumer, CreateUserAccountConsumerDefinition>()),
        (WorkerModule.Notifications, bus => bus.AddConsumer<SendNotificationConsumer, SendNotificationConsumerDefinition>()),
        (WorkerModule.Integrations, bus => bus.AddConsumer<WebhookTranslationConsumer, WebhookTranslationConsumerDefinition>()),
        (WorkerModule.Reporting, bus =>
        {
            bus.AddConsumer<SignupFunnelConsumer, SignupFunnelConsumerDefinition>();
            bus.AddConsumer<WebhookVolumeConsumer, WebhookVolumeConsumerDefinition>();
        }),
    ];

    /// <summary>Only the enabled modules' consumers: a disabled module gets no queue, so its messages wait for its own deployment.</summary>
    public static void ConfigureBus(IBusRegistrationConfigurator bus)
    {
        // AddWorkers registered the instance; test harnesses that compose only the bus get every module.
        var modules = bus.InstancesOf<EnabledWorkerModules>().SingleOrDefault() ?? new EnabledWorkerModules(WorkerModule.All);
        foreach (var enabled in Consumers.Where(x => modules.Has(x.Module)))
        {
            enabled.AddConsumers(bus);
        }
    }

    public static WebApplication MapWorkersEndpoints(this WebApplication app)
    {
        app.MapOutboxStatus<WorkersDbContext>("workers");
        if (app.Services.GetRequiredService<EnabledWorkerModules>().Has(WorkerModule.Reporting))
        {
            app.MapReportEndpoints();
        }

        return app;
    }
}
