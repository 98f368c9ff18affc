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
        var bus = new BusComposition(settings, DurableMessagingSettings.Load(builder.Configuration), modules);
        if (settings.Transport == TransportKind.RabbitMq && !builder.Services.InstancesOf<ServiceDatabaseRegistration>().Any(x => x.IsPostgres))
        {
            // On RabbitMQ the inbox and outbox must be durable, in the service database. AddServiceDatabase may come
            // after this call, so the bus waits for it (ComposeWaitingBus): composed here at once, a host that registered
            // its database second silently got the in-memory inbox, which forgets every deduplication on restart. If the
            // database never comes, the host refuses to start: the guard is the first hosted service, resolved first.
            var guard = ServiceDescriptor.Singleton<IHostedService>(_ => throw MissingServiceDatabase());
            builder.Services.Insert(0, guard);
            builder.Services.AddSingleton(new WaitingBus(bus, guard));
            return builder;
        }

        Compose(builder.Services, bus);
        return builder;
    }

    /// <summary>
    /// Called by AddServiceDatabase once its registration is in place: a bus that waits for its database is composed
    /// now, and a database that comes after a bus composed without one is refused, not ignored.
    /// </summary>
    internal static void ComposeWaitingBus(IServiceCollection services, ServiceDatabaseRegistration database)
    {
        if (services.InstancesOf<WaitingBus>().SingleOrDefault() is { } waiting)
        {
            services.Remove(waiting.Guard);
            services.Remove(services.Single(x => x.ServiceType == typeof(WaitingBus)));
            Compose(services, waiting.Bus);
        }
        else if (database.IsPostgres && services.InstancesOf<ComposedBus>().SingleOrDefault() is { DurableContext: null })
        {
            throw new InvalidSettingException(
                $"ConnectionStrings:{database.Service}",
                "is registered (AddServiceDatabase) after AddBackboneBus composed the in-memory bus with the in-memory inbox; "
                + "register the service database first.");
        }
        else if (database.IsPostgres && services.InstancesOf<ComposedBus>().SingleOrDefault() is { DurableContext: { } durable })
        {
            throw TooManyDatabases([services.InstancesOf<ServiceDatabaseRegistration>().First(x => x.ContextType == durable), database]);
        }
    }

    private static InvalidSettingException MissingServiceDatabase() => new(
        BackboneSettings.TransportKey,
        $"is {TransportKind.RabbitMq}, which keeps the inbox and outbox in the service's PostgreSQL database, but none is registered: "
        + "call builder.AddServiceDatabase<TDbContext>(service) (before or after AddBackboneBus) with ConnectionStrings:<service> set, "
        + $"or set {BackboneSettings.TransportKey}={TransportKind.InMemory} for embedded mode.");

    private static InvalidSettingException TooManyDatabases(IReadOnlyList<ServiceDatabaseRegistration> postgres) =>
        // One process, one service database: the outbox and inbox live in it, and a second one would need a
        // distributed transaction to stay consistent. Embedded mode composes services with in-memory stores.
        new($"ConnectionStrings:{postgres[1].Service}",
            $"one host process owns one PostgreSQL service database, but {string.Join(" and ", postgres.Select(x => x.Service))} are configured.");

    private static void Compose(IServiceCollection services, BusComposition composition)
    {
        var (settings, durable, modules) = composition;
        var postgres = services.InstancesOf<ServiceDatabaseRegistration>().Where(x => x.IsPostgres).ToList();
        if (postgres.Count > 1)
        {
            throw TooManyDatabases(postgres);
        }

        services.AddSingleton(new ComposedBus(postgres.Count == 1 ? postgres[0].ContextType : null));
        services.AddMassTransit(bus =>
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

                            if (rabbit.IsCluster)
                            {
                                // Each connection attempt takes the next node in turn (MassTransit's sequential
                                // resolver), so a lost connection is re-made on a surviving node. The port is always
                                // given: a node without one would get MassTransit's port, not ours.
                                host.UseCluster(cluster =>
                                {
                                    foreach (var node in rabbit.ClusterNodes)
                                    {
                                        cluster.Node(node.ToString());
                                    }
                                });
                            }
                        });

                        if (rabbit.QuorumQueues)
                        {
                            // The _error and _skipped queues hold what failed: on a cluster they must survive a node
                            // as the endpoint's queue does. MassTransit copies the endpoint queue's arguments to them
                            // today; set here, they do not depend on that copy.
                            cfg.SendTopology.ConfigureErrorSettings = error => error.SetQuorumQueue();
                            cfg.SendTopology.ConfigureDeadLetterSettings = skipped => skipped.SetQuorumQueue();
                        }

                        cfg.ConfigureEndpoints(context);
                    });
                    break;
                default:
                    throw new InvalidOperationException($"Unhandled transport {settings.Transport}.");
            }
        });

        if (settings.IsEmbedded)
        {
            services.AddHostedService<EmbeddedModeWarning>();
        }
    }

    private sealed record BusComposition(BackboneSettings Settings, DurableMessagingSettings Durable, Action<IBusRegistrationConfigurator>[] Modules);

    /// <summary>A RabbitMQ bus registered before its service database, and the guard that fails start without one.</summary>
    private sealed record WaitingBus(BusComposition Bus, ServiceDescriptor Guard);

    /// <summary>The bus is composed; with the durable core on this DbContext's database, or (null) the in-memory inbox.</summary>
    private sealed record ComposedBus(Type? DurableContext);
}
