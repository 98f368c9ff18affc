using EventBackbone.Messaging.Sagas;
using MassTransit;

namespace EventBackbone.Messaging.Tests.Sagas;

/// <summary>
/// Stands in for the consumer inbox/outbox: a scoped filter that opens a transaction on the consume scope's DbContext
/// before the saga runs and commits it after, or rolls it back for starts from <see cref="RolledBackDomain"/>.
/// </summary>
public sealed class AmbientTransactionFilter<T>(CounterDbContext db) : IFilter<ConsumeContext<T>>
    where T : class
{
    public const string RolledBackDomain = "@rolled-back.test";

    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(context.CancellationToken);
        await next.Send(context);
        if (context.Message is CounterStarted started && started.Email.EndsWith(RolledBackDomain, StringComparison.Ordinal))
        {
            await transaction.RollbackAsync(context.CancellationToken);
            return;
        }

        await transaction.CommitAsync(context.CancellationToken);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("ambientTransaction");
}

public sealed class AmbientTransactionCounterDefinition : SagaDefinition<CounterState>
{
    public AmbientTransactionCounterDefinition()
    {
        EndpointName = "counter-state-ambient-transaction";
        Endpoint(endpoint => endpoint.ConcurrentMessageLimit = CounterStateDefinition.Concurrency);
    }

    protected override void ConfigureSaga(
        IReceiveEndpointConfigurator endpointConfigurator,
        ISagaConfigurator<CounterState> sagaConfigurator,
        IRegistrationContext context)
    {
        // Retry first, so it sits outside the transaction: each attempt gets a new scope, DbContext and transaction.
        endpointConfigurator.UseSagaConcurrencyRetry();
        endpointConfigurator.UseConsumeFilter(typeof(AmbientTransactionFilter<>), context);
    }
}
