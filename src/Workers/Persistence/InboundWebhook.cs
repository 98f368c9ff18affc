namespace EventBackbone.Workers.Persistence;

/// <summary>A webhook as the workers received it from the bus, in the workers' own database.</summary>
public sealed class InboundWebhook
{
    public Guid EventId { get; set; }

    public required string Source { get; set; }

    public string? EventType { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }

    public DateTimeOffset ConsumedAt { get; set; }

    public Guid? MessageId { get; set; }
}
