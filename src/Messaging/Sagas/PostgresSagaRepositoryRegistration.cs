using EventBackbone.Messaging.Persistence;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Sagas;

public static class PostgresSagaRepositoryRegistration
{
    /// <summary>
    /// Stores this saga's state in the service's own PostgreSQL database through its scoped DbContext (the one
    /// <c>AddServiceDatabase</c> registers), in the table mapped with <see cref="SagaStateMapping.MapSagaState{TState}"/>:
    /// <c>bus.AddSagaStateMachine&lt;OrderStateMachine, OrderState&gt;().PostgresRepository&lt;OrderState, SagasDbContext&gt;();</c>
    /// Pair it with <see cref="SagaConcurrencyRetry"/> on the saga's endpoint, or conflicts fault instead of retrying.
    /// </summary>
    public static ISagaRegistrationConfigurator<TState> PostgresRepository<TState, TDbContext>(
        this ISagaRegistrationConfigurator<TState> configurator)
        where TState : class, SagaStateMachineInstance, ISagaVersion
        where TDbContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(configurator);
        configurator.Repository(repository =>
        {
            repository.RegisterSagaRepository<TState, DbContext, SagaConsumeContextFactory<DbContext, TState>,
                PostgresSagaRepositoryContextFactory<TDbContext, TState>>();
            repository.RegisterLoadSagaRepository<TState, PostgresSagaRepositoryContextFactory<TDbContext, TState>>();
            repository.RegisterQuerySagaRepository<TState, PostgresSagaRepositoryContextFactory<TDbContext, TState>>();
        });
        return configurator;
    }

    /// <summary>
    /// Stores this saga's state where its service keeps its data, in one line per saga:
    /// <c>bus.AddSagaStateMachine&lt;…&gt;().ServiceDatabaseRepository&lt;OrderState, SagasDbContext&gt;(bus);</c>. On PostgreSQL
    /// that is <see cref="PostgresRepository{TState,TDbContext}"/>; in embedded mode with no connection string, memory
    /// (the in-memory database has no xmin, so the PostgreSQL repository cannot run on it).
    /// </summary>
    public static ISagaRegistrationConfigurator<TState> ServiceDatabaseRepository<TState, TDbContext>(
        this ISagaRegistrationConfigurator<TState> configurator, IBusRegistrationConfigurator bus)
        where TState : class, SagaStateMachineInstance, ISagaVersion
        where TDbContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(configurator);
        ArgumentNullException.ThrowIfNull(bus);
        return bus.IsPostgres<TDbContext>()
            ? configurator.PostgresRepository<TState, TDbContext>()
            : configurator.InMemoryRepository();
    }
}
