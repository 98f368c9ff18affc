using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Outbox;

public static class OutboxModel
{
    public const string OutboxMessagesTable = "outbox_messages";
    public const string OutboxStateTable = "outbox_state";
    public const string InboxStateTable = "inbox_state";

    /// <summary>
    /// Maps the outbox, inbox and scheduler tables into a service's own DbContext, so its business rows and its
    /// messages commit in one transaction. Every index here serves one query of the delivery, inbox or cleanup paths.
    /// </summary>
    public static ModelBuilder AddBackboneMessaging(this ModelBuilder modelBuilder)
    {
        var message = modelBuilder.Entity<OutboxMessage>();
        message.ToTable(OutboxMessagesTable);
        message.HasKey(x => x.SequenceNumber);
        message.Property(x => x.SequenceNumber).UseIdentityByDefaultColumn();
        message.Property(x => x.ContentType).HasMaxLength(256);
        message.Property(x => x.MessageType);
        message.Property(x => x.Body);
        // Delivery reads one group in order.
        message.HasIndex(x => new { x.OutboxId, x.SequenceNumber }).HasFilter("outbox_id IS NOT NULL");
        // The inbox reads and deletes what one consumer published for one message.
        message.HasIndex(x => new { x.InboxMessageId, x.InboxConsumerId, x.SequenceNumber }).HasFilter("inbox_message_id IS NOT NULL");
        // Event status ("accepted" until its message left the outbox) looks messages up by id.
        message.HasIndex(x => x.MessageId);

        var state = modelBuilder.Entity<OutboxState>();
        state.ToTable(OutboxStateTable);
        state.HasKey(x => x.OutboxId);
        state.Property(x => x.NotBefore).HasDefaultValueSql("now()");
        state.Property(x => x.Created).HasDefaultValueSql("now()");
        // The claim query: due, not parked, oldest first.
        state.HasIndex(x => x.NotBefore).HasFilter("parked_at IS NULL");
        state.HasIndex(x => x.ScheduleTokenId).HasFilter("schedule_token_id IS NOT NULL");

        var inbox = modelBuilder.Entity<InboxState>();
        inbox.ToTable(InboxStateTable);
        inbox.HasKey(x => new { x.MessageId, x.ConsumerId });
        // Cleanup deletes by age; the orphan sweep finds consumed-but-undelivered rows.
        inbox.HasIndex(x => x.Received);
        inbox.HasIndex(x => x.Consumed).HasFilter("delivered IS NULL");
        return modelBuilder;
    }
}
