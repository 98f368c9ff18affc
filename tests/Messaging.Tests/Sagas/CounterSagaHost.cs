using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Sagas;
using EventBackbone.Messaging.Transport;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Tests.Sagas;

/// <summary>The counter saga on the repository under test, composed the way a host composes its module.</summary>
internal static class CounterSagaHost
{
    /// <summary>As production composes it: the saga's endpoint behind the durable inbox, in its transaction.</summary>
    public static Task<IHost> StartAsync(BackboneInfrastructure infrastructure) =>
        StartAsync<CounterStateDefinition>(infrastructure, durableCore: true);

    /// <param name="durableCore">
    /// False hosts the repository alone on a plain DbContext, for specs whose own filter plays the transaction owner.
    /// </param>
    public static async Task<IHost> StartAsync<TDefinition>(BackboneInfrastructure infrastructure, bool durableCore = false)
        where TDefinition : class, ISagaDefinition<CounterState>
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(infrastructure.HostSettings()!);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (durableCore)
        {
            // The saga's database as a service database: the durable core (inbox, consumer outbox, scheduler) applies.
            builder.AddServiceDatabase<CounterDbContext>("Sagas");
        }
        else
        {
            // On RabbitMQ a bus without its service database refuses to start: the repository alone runs on the in-memory
            // transport, which is not what these specs are about.
            builder.Configuration.AddInMemoryCollection([new(BackboneSettings.TransportKey, "InMemory")]);
            var connectionString = infrastructure.Database("Sagas").ConnectionString;
            builder.Services.AddDbContext<CounterDbContext>(options => ServiceDatabase.UsePostgres(options, connectionString));
        }
        builder.AddBackboneBus(bus => bus
            .AddSagaStateMachine<CounterStateMachine, CounterState, TDefinition>()
            .PostgresRepository<CounterState, CounterDbContext>());
        // Queues and bindings must exist before a test publishes, or RabbitMQ drops the message at the exchange.
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        var host = builder.Build();
        // MassTransit keeps its log context in an AsyncLocal and only fills it when empty: a test that restarts the
        // host would otherwise build the second bus on the first host's disposed LoggerFactory (ObjectDisposedException).
        LogContext.ConfigureCurrentLogContext(host.Services.GetRequiredService<ILoggerFactory>());

        if (!durableCore)
        {
            await using var scope = host.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<CounterDbContext>().Database.EnsureCreatedAsync();
        }

        await host.StartAsync();
        return host;
    }
}
