using EventBackbone.Messaging.Inbox;
using MassTransit;

namespace EventBackbone.Messaging.Probe;

/// <summary>
/// The consumer outbox as a write path: what it publishes is written inside the inbox transaction of the message it
/// consumes, together with its own rows (the sent log), and reaches the broker only after that commit.
/// </summary>
public sealed class RelayConsumer(ProbeDbContext db) : IConsumer<ProbeTransaction>, IConsumer<ProbeSchedule>
{
    public async Task Consume(ConsumeContext<ProbeTransaction> context)
    {
        foreach (var message in context.Message.Messages)
        {
            await context.Publish(message, x => x.MessageId = message.Id);
            db.SentLog.Add(new SentRecord { Sequence = message.Sequence, MessageId = message.Id });
        }

        if (!context.Message.Commit)
        {
            throw new ProbeRollbackException(context.Message.Number);
        }
    }

    public async Task Consume(ConsumeContext<ProbeSchedule> context)
    {
        var (schedule, kept, cancelled) = (context.Message, context.Message.Kept, context.Message.Cancelled);
        var scheduler = context.GetPayload<MessageSchedulerContext>();
        var due = DateTime.UtcNow + schedule.Delay;
        await scheduler.ScheduleSend(schedule.Destination, due, kept, Pipe.Execute<SendContext<ProbeMessage>>(x => x.MessageId = kept.Id));
        var toCancel = await scheduler.ScheduleSend(
            schedule.Destination, due, cancelled, Pipe.Execute<SendContext<ProbeMessage>>(x => x.MessageId = cancelled.Id));
        await scheduler.CancelScheduledSend(schedule.Destination, toCancel.TokenId);
    }
}

/// <summary>Path (c): the relay's endpoint commits one inbox transaction per message.</summary>
public sealed class SingleTransactionRelayDefinition : ConsumerDefinition<RelayConsumer>
{
    public SingleTransactionRelayDefinition()
    {
        EndpointName = RelayEndpoint.Name;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<RelayConsumer> consumerConfigurator, IRegistrationContext context) =>
        // Path (c) tests one inbox transaction per message, so it opts out of the batched default.
        endpointConfigurator.UseDurableInbox(InboxBatching.PerMessage);
}

/// <summary>Path (d): the relay's endpoint commits the deliveries that arrive together in one inbox transaction.</summary>
public sealed class BatchedRelayDefinition : ConsumerDefinition<RelayConsumer>
{
    public BatchedRelayDefinition()
    {
        EndpointName = RelayEndpoint.Name;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<RelayConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
}

public static class RelayEndpoint
{
    public const string Name = "probe-relay";
}
