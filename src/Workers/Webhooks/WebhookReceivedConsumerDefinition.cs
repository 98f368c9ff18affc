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
    }
}
