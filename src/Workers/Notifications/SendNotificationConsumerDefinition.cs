using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Policies;
using MassTransit;

namespace EventBackbone.Workers.Notifications;

public sealed class SendNotificationConsumerDefinition : ConsumerDefinition<SendNotificationConsumer>
{
    private readonly NotificationSettings _settings;

    public SendNotificationConsumerDefinition(NotificationSettings settings)
    {
        _settings = settings;
        // The queue name is the contract with senders: SendNotification is sent to queue:send-notification.
        EndpointName = "send-notification";
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SendNotificationConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // An unavailable provider is retried later, not at once: the HTTP pipeline already retried it with backoff, and
        // its circuit breaker may be open. Only that outage is redelivered; the consumer turns the last redelivery into
        // NotificationFailed. Transient database faults are still retried at once.
        endpointConfigurator.UseBackboneFailurePolicy(
            _settings.RedeliveryDelays,
            configureRedelivery: redelivery => redelivery.Handle<NotificationProviderUnavailableException>(),
            configureRetry: retry => retry.Ignore<NotificationProviderUnavailableException>());
        // One transaction per message: the consumer waits on an HTTP provider, and a batch runs its consumers in turn,
        // so batching would serialize the provider calls and hold one transaction open across all of them.
        endpointConfigurator.UseDurableInbox(InboxBatching.PerMessage);
    }
}
