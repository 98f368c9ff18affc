namespace EventBackbone.Messaging.Outbox;

/// <summary>That a consumer has had its effect for a message: the key of exactly-once effect.</summary>
internal sealed class InboxState
{
    public Guid MessageId { get; set; }

    public Guid ConsumerId { get; set; }

    public DateTime Received { get; set; }

    public int ReceiveCount { get; set; }

    public DateTime? Consumed { get; set; }

    /// <summary>When what the consumer published reached the broker; null while it is still in the consumer outbox.</summary>
    public DateTime? Delivered { get; set; }
}
