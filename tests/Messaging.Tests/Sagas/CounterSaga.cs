using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Sagas;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Tests.Sagas;

public sealed record CounterStarted(Guid CounterId, string Email);

public sealed record CounterOpenedByEmail(string Email);

public sealed record CounterIncremented(Guid CounterId);

/// <summary>Published by every increment with the count it reached: each count once, or an attempt leaked through.</summary>
public sealed record CounterIncrementNoted(Guid CounterId, int Increments);

public sealed record CounterLookedUpByEmail(string Email);

public sealed record CounterFinished(Guid CounterId);

public sealed class CounterState : SagaStateMachineInstance, ISagaVersion
{
    public Guid CorrelationId { get; set; }

    public int Version { get; set; }

    // Null until the first event is applied: InsertOnInitial writes the row before the machine sets a state.
    public string? CurrentState { get; set; }

    public string? Email { get; set; }

    public int Increments { get; set; }

    public int Lookups { get; set; }
}

public sealed class CounterStateMachine : MassTransitStateMachine<CounterState>
{
    public CounterStateMachine()
    {
        InstanceState(x => x.CurrentState);

        Event(() => Started, x =>
        {
            x.CorrelateById(context => context.Message.CounterId);
            // Pre-inserts the row, so a concurrent duplicate start meets the primary key inside the repository.
            x.InsertOnInitial = true;
            x.SetSagaFactory(context => new CounterState { CorrelationId = context.Message.CounterId, Email = context.Message.Email });
        });
        Event(() => OpenedByEmail, x =>
        {
            x.CorrelateBy((counter, context) => counter.Email == context.Message.Email);
            x.SelectId(_ => NewId.NextGuid());
        });
        Event(() => Incremented, x => x.CorrelateById(context => context.Message.CounterId));
        Event(() => LookedUpByEmail, x => x.CorrelateBy((counter, context) => counter.Email == context.Message.Email));
        Event(() => Finished, x => x.CorrelateById(context => context.Message.CounterId));

        Initially(
            When(Started).TransitionTo(Counting),
            When(OpenedByEmail).Then(context => context.Saga.Email = context.Message.Email).TransitionTo(Counting));

        During(Counting,
            Ignore(Started),
            Ignore(OpenedByEmail),
            When(Incremented)
                .Then(context => context.Saga.Increments++)
                .Publish(context => new CounterIncrementNoted(context.Saga.CorrelationId, context.Saga.Increments)),
            When(LookedUpByEmail).Then(context => context.Saga.Lookups++),
            When(Finished).Finalize());

        SetCompletedWhenFinalized();
    }

    public State Counting { get; private set; } = null!;

    public Event<CounterStarted> Started { get; private set; } = null!;

    public Event<CounterOpenedByEmail> OpenedByEmail { get; private set; } = null!;

    public Event<CounterIncremented> Incremented { get; private set; } = null!;

    public Event<CounterLookedUpByEmail> LookedUpByEmail { get; private set; } = null!;

    public Event<CounterFinished> Finished { get; private set; } = null!;
}

public sealed class CounterStateDefinition : SagaDefinition<CounterState>
{
    /// <summary>Deliveries processed at once: enough that increments of one counter really race each other.</summary>
    public const int Concurrency = 16;

    public CounterStateDefinition()
    {
        Endpoint(endpoint =>
        {
            endpoint.PrefetchCount = Concurrency * 2;
            endpoint.ConcurrentMessageLimit = Concurrency;
        });
    }

    protected override void ConfigureSaga(
        IReceiveEndpointConfigurator endpointConfigurator,
        ISagaConfigurator<CounterState> sagaConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UseSagaConcurrencyRetry();
}

public sealed class CounterDbContext(DbContextOptions<CounterDbContext> options) : DbContext(options)
{
    public const string Table = "counter_states";

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder
            // As in a service database: the saga's endpoint runs behind the inbox, in the same transaction.
            .AddBackboneMessaging()
            .MapSagaState<CounterState>(Table, state =>
            {
                state.Property(x => x.CurrentState).HasMaxLength(64);
                // Unique, so two concurrent CounterOpenedByEmail (each with a new id) cannot both create a counter.
                state.HasIndex(x => x.Email).IsUnique();
            });
}
