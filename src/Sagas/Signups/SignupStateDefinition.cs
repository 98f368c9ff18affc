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
        // Outermost: transient faults (a lost connection) are redelivered later through the durable scheduler.
        // Scheduled, not delayed: UseDelayedRedelivery needs RabbitMQ's delayed-exchange plugin, which we do not have
        // (the redelivery faulted with "unknown exchange type 'x-delayed-message'"); this goes through our durable scheduler.
        endpointConfigurator.UseScheduledRedelivery(redelivery => redelivery.Intervals(
            TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)));
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 1000));
        // Innermost: two events for one signup racing each other; the loser reloads and applies on the new state.
        endpointConfigurator.UseSagaConcurrencyRetry();
    }
}
