using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Policies;
using MassTransit;

namespace EventBackbone.Workers.Webhooks;

public sealed class WebhookReceivedConsumerDefinition : ConsumerDefinition<WebhookReceivedConsumer>
{
    public WebhookReceivedConsumerDefinition()
    {
        // Each message costs one short transaction: more in flight than the connection pool can serve only queues.
        ConcurrentMessageLimit = 16;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<WebhookReceivedConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseBackboneFailurePolicy();
        // The 16 in flight share inbox transactions (one commit for many webhooks); a duplicate webhook's caught unique
        // violation is rolled back to EF Core's savepoint and costs no other message of the batch anything.
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
    }
}
