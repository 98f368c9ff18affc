using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Sagas;
using MassTransit;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Messaging.Tests.Sagas;

/// <summary>Fast: the model and the registrations, without a server (nothing here opens a connection).</summary>
[Trait("Tier", "Fast")]
public sealed class SagaRepositoryModelSpecs
{
    private const string UnusedConnectionString = "Host=unused.invalid;Database=unused";

    [Fact]
    public void Saga_state_maps_to_its_own_snake_case_table_with_xmin_as_the_concurrency_token()
    {
        using var db = new CounterDbContext(new DbContextOptionsBuilder<CounterDbContext>()
            .UseNpgsql(UnusedConnectionString).UseSnakeCaseNamingConvention().Options);

        var state = db.Model.FindEntityType(typeof(CounterState))!;

        Assert.Equal(CounterDbContext.Table, state.GetTableName());
        Assert.Equal(nameof(CounterState.CorrelationId), Assert.Single(state.FindPrimaryKey()!.Properties).Name);
        Assert.Equal("correlation_id", state.FindProperty(nameof(CounterState.CorrelationId))!.GetColumnName());
        Assert.Equal("current_state", state.FindProperty(nameof(CounterState.CurrentState))!.GetColumnName());
        var token = state.FindProperty(SagaStateMapping.ConcurrencyTokenProperty)!;
        Assert.True(token.IsShadowProperty());
        Assert.Equal(typeof(uint), token.ClrType);
        Assert.Equal("xmin", token.GetColumnName());
        Assert.True(token.IsConcurrencyToken);
        Assert.Equal(ValueGenerated.OnAddOrUpdate, token.ValueGenerated);
        Assert.False(state.FindProperty(nameof(CounterState.Version))!.IsConcurrencyToken);
    }

    [Fact]
    public void Only_xmin_conflicts_and_duplicate_inserts_are_retried()
    {
        Assert.True(SagaConcurrencyRetry.IsConcurrencyConflict(new DbUpdateConcurrencyException("xmin moved")));
        Assert.True(SagaConcurrencyRetry.IsConcurrencyConflict(
            new DbUpdateException("duplicate", new PostgresException("duplicate key", "ERROR", "ERROR", PostgresErrorCodes.UniqueViolation))));
        Assert.False(SagaConcurrencyRetry.IsConcurrencyConflict(
            new DbUpdateException("not null", new PostgresException("null value", "ERROR", "ERROR", PostgresErrorCodes.NotNullViolation))));
        Assert.False(SagaConcurrencyRetry.IsConcurrencyConflict(new InvalidOperationException("a bug")));
    }

    [Fact]
    public async Task The_saga_repository_factories_resolve_per_scope_on_the_scoped_db_context()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<CounterDbContext>(options => ServiceDatabase.UsePostgres(options, UnusedConnectionString));
        services.AddMassTransit(bus =>
        {
            bus.AddSagaStateMachine<CounterStateMachine, CounterState, CounterStateDefinition>()
                .PostgresRepository<CounterState, CounterDbContext>();
            bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
        });
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        await using var scope = provider.CreateAsyncScope();

        Assert.IsType<PostgresSagaRepositoryContextFactory<CounterDbContext, CounterState>>(
            scope.ServiceProvider.GetRequiredService<ISagaRepositoryContextFactory<CounterState>>());
        Assert.IsType<PostgresSagaRepositoryContextFactory<CounterDbContext, CounterState>>(
            scope.ServiceProvider.GetRequiredService<ILoadSagaRepositoryContextFactory<CounterState>>());
        Assert.IsType<PostgresSagaRepositoryContextFactory<CounterDbContext, CounterState>>(
            scope.ServiceProvider.GetRequiredService<IQuerySagaRepositoryContextFactory<CounterState>>());
    }
}
