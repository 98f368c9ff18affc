using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Scheduling;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.DependencyInjection;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EventBackbone.Messaging.Durable;

internal static class DurableMessagingRegistration
{
    /// <summary>
    /// The durable core on the service's PostgreSQL database: bus outbox for code outside consumers, inbox and
    /// consumer outbox on every consumer and saga endpoint, durable scheduling, delivery and cleanup services.
    /// </summary>
    public static void AddDurableMessaging<TDbContext>(this IBusRegistrationConfigurator bus, DurableMessagingSettings settings)
        where TDbContext : DbContext
    {
        bus.TryAddSingleton(settings);
        bus.TryAddSingleton<MessagingMetrics>();
        bus.TryAddSingleton<ServiceDataSource<TDbContext>>();
        bus.TryAddSingleton<IDurablePublisher, DurablePublisher<TDbContext>>();
        // Batched inbox: a consumer's savepoint is taken before its first statement on the batch's connection.
        bus.ConfigureDbContext<TDbContext>((_, options) => options.AddInterceptors(InboxSavepointInterceptor.Instance), ServiceLifetime.Singleton);
        bus.ReplaceScoped<IScopedBusContextProvider<IBus>, OutboxScopedBusContextProvider<TDbContext>>();
        bus.AddHostedService<OutboxDeliveryService<TDbContext>>();
        bus.AddHostedService<OutboxNotifier<TDbContext>>();
        bus.AddHostedService<InboxCleanupService<TDbContext>>();
        bus.TryAddScoped<IMessageScheduler>(provider =>
            new MessageScheduler(OutboxScheduleMessageProvider<TDbContext>.ForScope(provider), provider.GetRequiredService<IBus>().Topology));

        bus.AddConfigureEndpointsCallback((context, _, endpoint) =>
        {
            // Before the message-type router, so every filter of every message pipe finds the scheduler. UseFilter put it
            // into each message pipe after what definitions had configured there already, so UseScheduledRedelivery
            // ran first and faulted with "payload not found: MessageSchedulerContext": nothing was ever redelivered.
            endpoint.AddPrePipeSpecification(new FilterPipeSpecification<ConsumeContext>(new OutboxSchedulerFilter<TDbContext>(context)));
            var inbox = new InboxPipeSpecificationObserver<TDbContext>(endpoint, context);
            endpoint.ConnectConsumerConfigurationObserver(inbox);
            endpoint.ConnectSagaConfigurationObserver(inbox);
        });
    }

    /// <summary>
    /// Embedded mode: the same endpoints with MassTransit's in-memory inbox/outbox and transport-delay scheduler, so
    /// consumers behave alike (messages held until the consume completes) with nothing persisted.
    /// </summary>
    public static void AddEmbeddedMessaging(this IBusRegistrationConfigurator bus)
    {
        bus.AddInMemoryInboxOutbox();
        bus.AddDelayedMessageScheduler();
        bus.AddConfigureEndpointsCallback((context, _, endpoint) => endpoint.UseInMemoryInboxOutbox(context));
    }
}
