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
    public static Task<IHost> StartAsync(BackboneInfrastructure infrastructure) =>
        StartAsync<CounterStateDefinition>(infrastructure);

    public static async Task<IHost> StartAsync<TDefinition>(BackboneInfrastructure infrastructure)
        where TDefinition : class, ISagaDefinition<CounterState>
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(infrastructure.HostSettings()!);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var connectionString = infrastructure.Database("Sagas").ConnectionString;
        builder.Services.AddDbContext<CounterDbContext>(options => ServiceDatabase.UsePostgres(options, connectionString));
        builder.AddBackboneBus(bus => bus
            .AddSagaStateMachine<CounterStateMachine, CounterState, TDefinition>()
            .PostgresRepository<CounterState, CounterDbContext>());
        // Queues and bindings must exist before a test publishes, or RabbitMQ drops the message at the exchange.
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        var host = builder.Build();
        // MassTransit keeps its log context in an AsyncLocal and only fills it when empty: a test that restarts the
        // host would otherwise build the second bus on the first host's disposed LoggerFactory (ObjectDisposedException).
        LogContext.ConfigureCurrentLogContext(host.Services.GetRequiredService<ILoggerFactory>());

        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<CounterDbContext>().Database.EnsureCreatedAsync();
        }

        await host.StartAsync();
        return host;
    }
}
