using EventBackbone.Messaging.Outbox;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Inbox;

/// <summary>
/// The consume context a consumer sees behind the inbox: everything it sends or publishes becomes an outbox row in
/// its own DbContext, committed with its database effect and delivered only after that commit.
/// </summary>
internal sealed class InboxConsumeContext<TDbContext, TMessage> : OutboxConsumeContextProxy<TMessage>, IInboxScope
    where TDbContext : DbContext
    where TMessage : class
{
    private readonly TDbContext _db;
    private readonly Guid _messageId;
    private readonly Lock _gate = new();
    private readonly List<OutboxMessage> _outgoing = [];

    public InboxConsumeContext(
        ConsumeContext<TMessage> context,
        InboxConsumerOptions inbox,
        IServiceProvider provider,
        TDbContext db,
        Guid messageId)
        : base(context, new OutboxConsumeOptions { ConsumerId = inbox.ConsumerId, ConsumerType = inbox.ConsumerType }, provider)
    {
        _db = db;
        _messageId = messageId;
    }

    public TDbContext DbContext => _db;

    /// <summary>Messages to deliver right after commit (scheduled ones wait in the bus outbox for their due time).</summary>
    public IReadOnlyList<OutboxMessage> Outgoing
    {
        get
        {
            lock (_gate)
            {
                return [.. _outgoing];
            }
        }
    }

    public override Guid? MessageId => _messageId;

    public override bool ContinueProcessing { get; set; }

    public override bool IsMessageConsumed => false;

    public override bool IsOutboxDelivered => false;

    public override int ReceiveCount => 1;

    public override long? LastSequenceNumber => null;

    public override Task AddSend<T>(SendContext<T> context)
    {
        var message = OutboxMessageFactory.Create(context);
        if (OutboxMessageFactory.DueTime(context) is { } due)
        {
            // Scheduled from a consumer or saga: a bus-outbox group with a due time, committed with this consume and
            // sent by the delivery service when due. Unschedule deletes it in the same way.
            var group = new OutboxState { OutboxId = NewId.NextGuid(), NotBefore = due, ScheduleTokenId = context.ScheduledMessageId };
            message.OutboxId = group.OutboxId;
            lock (_gate)
            {
                _db.Add(group);
                _db.Add(message);
            }

            return Task.CompletedTask;
        }

        message.InboxMessageId = _messageId;
        message.InboxConsumerId = ConsumerId;
        lock (_gate)
        {
            _db.Add(message);
            _outgoing.Add(message);
        }

        return Task.CompletedTask;
    }

    /// <summary>Cancels a scheduled message inside this consume's transaction, whether or not it was saved yet.</summary>
    public async Task CancelScheduledAsync(Guid tokenId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var entry in _db.ChangeTracker.Entries<OutboxState>().Where(x => x.State == EntityState.Added && x.Entity.ScheduleTokenId == tokenId).ToList())
            {
                var outboxId = entry.Entity.OutboxId;
                foreach (var message in _db.ChangeTracker.Entries<OutboxMessage>().Where(x => x.Entity.OutboxId == outboxId).ToList())
                {
                    message.State = EntityState.Detached;
                }

                entry.State = EntityState.Detached;
            }
        }

        await OutboxScheduling.DeleteScheduledAsync(_db, tokenId, cancellationToken);
    }

    public override Task SetConsumed() => Task.CompletedTask;

    public override Task SetDelivered() => Task.CompletedTask;

    public override Task<List<OutboxMessageContext>> LoadOutboxMessages() => Task.FromResult(new List<OutboxMessageContext>());

    public override Task NotifyOutboxMessageDelivered(OutboxMessageContext message) => Task.CompletedTask;

    public override Task RemoveOutboxMessages() => Task.CompletedTask;
}
