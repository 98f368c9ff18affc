using MassTransit;

namespace EventBackbone.Workers.Integrations;

public sealed class WebhookTranslationConsumerDefinition : ConsumerDefinition<WebhookTranslationConsumer>
{
    public WebhookTranslationConsumerDefinition()
    {
        EndpointName = "integrations-webhook-received";
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<WebhookTranslationConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // Scheduled, not delayed: UseDelayedRedelivery needs RabbitMQ's delayed-exchange plugin, which we do not have
        // (the redelivery faulted with "unknown exchange type 'x-delayed-message'"); this goes through our durable scheduler.
        endpointConfigurator.UseScheduledRedelivery(redelivery => redelivery.Intervals(
            TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)));
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 1000));
    }
}
