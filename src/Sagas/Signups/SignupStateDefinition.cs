using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Policies;
using EventBackbone.Messaging.Sagas;
using MassTransit;

namespace EventBackbone.Sagas.Signups;

public sealed class SignupStateDefinition : SagaDefinition<SignupState>
{
    public SignupStateDefinition()
    {
        // Each message is one short transaction on the Sagas database; more in flight than its pool only queues.
        Endpoint(endpoint =>
        {
            endpoint.Name = "signup-state";
            endpoint.PrefetchCount = 32;
            endpoint.ConcurrentMessageLimit = 16;
        });
    }

    protected override void ConfigureSaga(
        IReceiveEndpointConfigurator endpointConfigurator,
        ISagaConfigurator<SignupState> sagaConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseBackboneFailurePolicy();
        // Up to 16 in flight (ConcurrentMessageLimit) share inbox transactions; a batch runs its events in correlation-id
        // order, so two batches over the same signups lock them in one order and cannot deadlock.
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
        // Innermost: two events for one signup racing each other; the loser reloads and applies on the new state.
        endpointConfigurator.UseSagaConcurrencyRetry();
    }
}
