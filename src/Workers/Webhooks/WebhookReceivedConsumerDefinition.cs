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
        // Retry sits outside the unit of work so every attempt gets a fresh scope and DbContext.
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 2000));
    }
}
