using System.Reflection;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Persistence;
using EventBackbone.ServiceDefaults;
using EventBackbone.ServiceDefaults.Settings;
using MassTransit;
using MassTransit.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Transport;

public static class BusRegistration
{
    private static readonly MethodInfo AddDurableMessagingMethod =
        typeof(DurableMessagingRegistration).GetMethod(nameof(DurableMessagingRegistration.AddDurableMessaging))!;

    /// <summary>
    /// The one bus of this process, on the configured transport. Each module (a host's consumers and sagas) adds its
    /// registrations through <paramref name="modules"/>; embedded mode passes every module to a single bus.
    /// </summary>
    public static IHostApplicationBuilder AddBackboneBus(
        this IHostApplicationBuilder builder,
        params Action<IBusRegistrationConfigurator>[] modules)
    {
        var settings = BackboneSettings.Load(builder.Configuration);
        builder.Services.AddSingleton(settings);
        var durable = DurableMessagingSettings.Load(builder.Configuration);
        var databases = builder.Services.InstancesOf<ServiceDatabaseRegistration>().ToList();
        var postgres = databases.Where(x => x.IsPostgres).ToList();
        if (postgres.Count > 1)
        {
            // One process, one service database: the outbox and inbox live in it, and a second one would need a
            // distributed transaction to stay consistent. Embedded mode composes services with in-memory stores.
            throw new InvalidSettingException(
                $"ConnectionStrings:{postgres[1].Service}",
                $"one host process owns one PostgreSQL service database, but {string.Join(" and ", postgres.Select(x => x.Service))} are configured.");
        }

        builder.Services.AddMassTransit(bus =>
        {
            // Queue names come from consumer and saga names, so they are the same in every mode and on every host.
            bus.SetKebabCaseEndpointNameFormatter();
            // MassTransit 8.5 reports bus and endpoint usage to usage-tracking.masstransit.io by default; a service of
            // ours never calls outside its own infrastructure unasked (and on a closed network it only logs a warning).
            bus.DisableUsageTelemetry();
            bus.ConfigureHealthCheckOptions(health =>
            {
                health.Name = "bus";
                health.Tags.Add(ServiceDefaultsExtensions.ReadyTag);
            });

            foreach (var module in modules)
            {
                module(bus);
            }

            bus.AddConfigureEndpointsCallback((context, _, endpoint) => endpoint.AddPrePipeSpecification(
                new FilterPipeSpecification<ConsumeContext>(new ConsumeLogScope(
                    context.GetRequiredService<Microsoft.Extensions.Logging.ILogger<ConsumeLogScope>>()))));

            if (postgres.Count == 1)
            {
                AddDurableMessagingMethod.MakeGenericMethod(postgres[0].ContextType).Invoke(null, [bus, durable]);
            }
            else
            {
                bus.AddEmbeddedMessaging();
            }

            switch (settings.Transport)
            {
                case TransportKind.InMemory:
                    bus.UsingInMemory((context, cfg) =>
                    {
                        // Saga Schedule/Unschedule and delayed redelivery need a scheduler in every consume context;
                        // in memory that is the transport's own delay (nothing is durable in embedded mode anyway).
                        cfg.UseDelayedMessageScheduler();
                        cfg.ConfigureEndpoints(context);
                    });
                    break;
                case TransportKind.RabbitMq:
                    if (settings.RabbitMq.QuorumQueues)
                    {
                        bus.AddConfigureEndpointsCallback((_, _, endpoint) =>
                        {
                            if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbitEndpoint)
                            {
                                rabbitEndpoint.SetQuorumQueue();
                            }
                        });
                    }

                    bus.UsingRabbitMq((context, cfg) =>
                    {
                        var rabbit = settings.RabbitMq;
                        cfg.Host(rabbit.Host, (ushort)rabbit.Port, rabbit.VirtualHost, host =>
                        {
                            host.Username(rabbit.Username);
                            host.Password(rabbit.Password);
                            // A send completes only when the broker has taken the message: the outbox deletes its
                            // row after that, never before.
                            host.PublisherConfirmation = true;
                            if (rabbit.Tls is { } tls)
                            {
                                host.UseSsl(ssl => tls.Configure(ssl));
                            }
                        });
                        cfg.ConfigureEndpoints(context);
                    });
                    break;
                default:
                    throw new InvalidOperationException($"Unhandled transport {settings.Transport}.");
            }
        });

        if (settings.IsEmbedded)
        {
            builder.Services.AddHostedService<EmbeddedModeWarning>();
        }

        return builder;
    }
}
