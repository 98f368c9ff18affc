namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>
/// The SHA-256 of a body accepted from a source whose scheme signs no timestamp (GitHub, Hmac), one per source and
/// body (table <c>webhook_body_digests</c>). Such a signature covers the body alone, so a captured body and signature
/// resent under a new delivery id would verify as a new event; while this row is younger than the duplicate window,
/// it is answered as a repeat of <see cref="EventId"/> instead.
/// </summary>
public sealed class WebhookBodyDigest
{
    public required string Source { get; set; }

    public required byte[] BodySha256 { get; set; }

    public Guid EventId { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }
}
