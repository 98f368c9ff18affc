using EventBackbone.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Transport;

public static class BusRegistration
{
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

        builder.Services.AddMassTransit(bus =>
        {
            // Queue names come from consumer and saga names, so they are the same in every mode and on every host.
            bus.SetKebabCaseEndpointNameFormatter();
            bus.ConfigureHealthCheckOptions(health =>
            {
                health.Name = "bus";
                health.Tags.Add(ServiceDefaultsExtensions.ReadyTag);
            });

            foreach (var module in modules)
            {
                module(bus);
            }

            switch (settings.Transport)
            {
                case TransportKind.InMemory:
                    bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
                    break;
                case TransportKind.RabbitMq:
                    bus.UsingRabbitMq((context, cfg) =>
                    {
                        var rabbit = settings.RabbitMq;
                        cfg.Host(rabbit.Host, (ushort)rabbit.Port, rabbit.VirtualHost, host =>
                        {
                            host.Username(rabbit.Username);
                            host.Password(rabbit.Password);
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
