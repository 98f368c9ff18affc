using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Policies;
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
        // Untranslatable webhooks are recorded, not thrown, so only transient faults reach this policy.
        endpointConfigurator.UseBackboneFailurePolicy();
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
    }
}
