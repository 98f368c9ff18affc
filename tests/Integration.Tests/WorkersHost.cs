using EventBackbone.Messaging.Transport;
using EventBackbone.TestInfrastructure;
using EventBackbone.Workers;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Integration.Tests;

/// <summary>The workers module, composed exactly as its host composes it, against the fixture's real servers.</summary>
internal static class WorkersHost
{
    public static async Task<IHost> StartAsync(BackboneInfrastructure infrastructure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(infrastructure.HostSettings()!);
        builder.AddWorkers();
        builder.AddBackboneBus(WorkersComposition.ConfigureBus);
        // Queues and bindings must exist before a test publishes, or RabbitMQ drops the message at the exchange.
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
