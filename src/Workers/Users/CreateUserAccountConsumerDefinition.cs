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
        // Transient faults (a dropped connection, a serialization failure) are retried at once, then redelivered later
        // through the durable scheduler, then dead-lettered. Rejections are answers, never exceptions, so nothing
        // non-transient reaches these policies.
        // Scheduled, not delayed: UseDelayedRedelivery needs RabbitMQ's delayed-exchange plugin, which we do not have
        // (the redelivery faulted with "unknown exchange type 'x-delayed-message'"); this goes through our durable scheduler.
        endpointConfigurator.UseScheduledRedelivery(redelivery => redelivery.Intervals(
            TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)));
        endpointConfigurator.UseMessageRetry(retry => retry.Intervals(100, 500, 1000));
    }
}
