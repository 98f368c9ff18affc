using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Policies;
using MassTransit;

namespace EventBackbone.Workers.Reporting;

public sealed class SignupFunnelConsumerDefinition : ConsumerDefinition<SignupFunnelConsumer>
{
    public SignupFunnelConsumerDefinition()
    {
        EndpointName = "reporting-signup-funnel";
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SignupFunnelConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // Retries also resolve two events of one signup inserting its row at once (each retry gets a fresh scope).
        endpointConfigurator.UseBackboneFailurePolicy();
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
    }
}

public sealed class WebhookVolumeConsumerDefinition : ConsumerDefinition<WebhookVolumeConsumer>
{
    public WebhookVolumeConsumerDefinition()
    {
        EndpointName = "reporting-webhook-volume";
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<WebhookVolumeConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseBackboneFailurePolicy();
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
    }
}
