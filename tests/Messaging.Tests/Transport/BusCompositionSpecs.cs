using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Tests.Sagas;
using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults.Settings;
using MassTransit;
using MassTransit.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Tests.Transport;

/// <summary>
/// Which inbox and outbox a bus gets must not depend on the order a host calls AddServiceDatabase and AddBackboneBus:
/// a RabbitMQ bus that silently got the in-memory inbox would forget every deduplication on restart.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class BusCompositionSpecs
{
    [Fact]
    public void On_RabbitMq_a_database_registered_before_the_bus_gets_the_durable_core()
    {
        var builder = Builder("RabbitMq");
        builder.AddServiceDatabase<CounterDbContext>("Sagas");
        builder.AddBackboneBus();

        AssertDurableCore(builder.Services);
    }

    [Fact]
    public void On_RabbitMq_a_database_registered_after_the_bus_gets_the_durable_core_too()
    {
        var builder = Builder("RabbitMq");
        builder.AddBackboneBus();
        builder.AddServiceDatabase<CounterDbContext>("Sagas");

        AssertDurableCore(builder.Services);
    }

    [Fact]
    public async Task On_RabbitMq_without_a_service_database_the_host_refuses_to_start_and_says_what_is_missing()
    {
        var builder = Builder("RabbitMq");
        builder.AddBackboneBus();
        using var host = builder.Build();

        var refused = await Assert.ThrowsAsync<InvalidSettingException>(() => host.StartAsync());

        Assert.Equal(BackboneSettings.TransportKey, refused.Setting);
        Assert.Contains("AddServiceDatabase", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_memory_without_a_database_gets_the_in_memory_inbox_and_starts()
    {
        var builder = Builder("InMemory");
        builder.AddBackboneBus();
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        Assert.DoesNotContain(builder.Services, x => x.ImplementationType == typeof(OutboxScopedBusContextProvider<CounterDbContext>));
    }

    private static HostApplicationBuilder Builder(string transport)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [BackboneSettings.TransportKey] = transport,
            // Never opened: these specs only compose the host.
            ["ConnectionStrings:Sagas"] = "Host=127.0.0.1;Database=bus_composition_specs",
        });
        return builder;
    }

    private static void AssertDurableCore(IServiceCollection services)
    {
        Assert.Contains(services, x => x.ServiceType == typeof(IScopedBusContextProvider<IBus>)
            && x.ImplementationType == typeof(OutboxScopedBusContextProvider<CounterDbContext>));
        // The schema is migrated before the bus consumes its first message, in either order.
        var migration = services.ToList().FindIndex(x => x.ImplementationType == typeof(DatabaseInitializer<CounterDbContext>));
        var bus = services.ToList().FindIndex(x => x.ImplementationType?.FullName == "MassTransit.MassTransitHostedService");
        Assert.True(migration >= 0 && migration < bus, $"Migration is hosted service #{migration}, the bus #{bus}.");
    }
}
