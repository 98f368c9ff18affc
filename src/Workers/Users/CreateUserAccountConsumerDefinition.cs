using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Policies;
using MassTransit;

namespace EventBackbone.Workers.Users;

public sealed class CreateUserAccountConsumerDefinition : ConsumerDefinition<CreateUserAccountConsumer>
{
    public CreateUserAccountConsumerDefinition()
    {
        // The queue name is the contract with senders: CreateUserAccount is sent to queue:create-user-account.
        EndpointName = "create-user-account";
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CreateUserAccountConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // Rejections are answers, never exceptions, so only transient faults reach this policy.
        endpointConfigurator.UseBackboneFailurePolicy();
        // Deliveries in flight share inbox transactions; a taken address (caught unique violation) stays an answer.
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
    }
}
