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
        // An unavailable provider is retried later, not at once: the HTTP pipeline already retried it with backoff,
        // and its circuit breaker may be open. The consumer turns the last redelivery into NotificationFailed.
        if (_settings.RedeliveryDelays.Count > 0)
        {
            // Scheduled, not delayed: UseDelayedRedelivery needs RabbitMQ's delayed-exchange plugin, which we do not have
            // (the redelivery faulted with "unknown exchange type 'x-delayed-message'"); this goes through our durable scheduler.
            endpointConfigurator.UseScheduledRedelivery(redelivery =>
                {
                    redelivery.Handle<NotificationProviderUnavailableException>();
                    redelivery.Intervals([.. _settings.RedeliveryDelays]);
                });
        }

        // Transient database faults are retried at once; a provider outage skips these retries.
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Ignore<NotificationProviderUnavailableException>();
            retry.Intervals(100, 500, 1000);
        });
    }
}
