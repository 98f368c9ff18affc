namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>A webhook as the edge accepted it: the raw bytes are kept, so it can be verified and replayed later.</summary>
public sealed class WebhookReceipt
{
    public Guid EventId { get; set; }

    public required string Source { get; set; }

    public string? EventType { get; set; }

    /// <summary>The sender's id for this delivery (kept across its retries); unique per source.</summary>
    public string? DedupeKey { get; set; }

    public required string ContentType { get; set; }

    public required byte[] Body { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }

}
