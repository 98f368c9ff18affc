using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Sagas;
using MassTransit;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Messaging.Tests.Sagas;

/// <summary>The one place a saga's repository follows its service database: PostgreSQL or embedded mode's memory.</summary>
[Trait("Tier", "Fast")]
public sealed class ServiceDatabaseRepositorySpecs
{
    [Fact]
    public async Task A_saga_on_a_postgres_service_database_gets_the_postgres_repository()
    {
        await using var provider = Compose(new ServiceDatabaseRegistration(typeof(CounterDbContext), "Sagas", IsPostgres: true));
        await using var scope = provider.CreateAsyncScope();

        Assert.IsType<PostgresSagaRepositoryContextFactory<CounterDbContext, CounterState>>(
            scope.ServiceProvider.GetRequiredService<ISagaRepositoryContextFactory<CounterState>>());
    }

    [Fact]
    public async Task A_saga_on_an_in_memory_service_database_gets_the_in_memory_repository()
    {
        await using var provider = Compose(new ServiceDatabaseRegistration(typeof(CounterDbContext), "Sagas", IsPostgres: false));
        await using var scope = provider.CreateAsyncScope();

        Assert.IsType<InMemorySagaRepositoryContextFactory<CounterState>>(
            scope.ServiceProvider.GetRequiredService<ISagaRepositoryContextFactory<CounterState>>());
    }

    [Fact]
    public void A_saga_whose_context_is_no_service_database_is_refused_naming_the_registration_it_needs()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => Compose(registration: null));

        Assert.Contains($"AddServiceDatabase<{nameof(CounterDbContext)}>", refused.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Compose(ServiceDatabaseRegistration? registration)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<CounterDbContext>(options => ServiceDatabase.UsePostgres(options, "Host=unused.invalid;Database=unused"));
        if (registration is not null)
        {
            services.AddSingleton(registration);
        }

        services.AddMassTransit(bus =>
        {
            bus.AddSagaStateMachine<CounterStateMachine, CounterState, CounterStateDefinition>()
                .ServiceDatabaseRepository<CounterState, CounterDbContext>(bus);
            bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
        });
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }
}
