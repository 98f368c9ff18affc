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
        IRegistrationContext context) =>
        // Retries also resolve two events of one signup inserting its row at once (each retry gets a fresh scope).
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(50, 200, 500, 1000, 2000));
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
        IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 1000));
}
