namespace EventBackbone.Contracts.Webhooks;

/// <summary>
/// A webhook from an external system, durably accepted by the ingestion edge.
/// The namespace and type name are the wire identity: never rename, only add members.
/// </summary>
/// <param name="EventId">Id the edge gave the accepted webhook; the sender sees it in the 202 response.</param>
/// <param name="Source">Configured source name from the URL, e.g. <c>github</c>.</param>
/// <param name="EventType">Event name the sender gave, when its scheme carries one.</param>
/// <param name="ReceivedAt">When the edge received the request.</param>
/// <param name="ContentType">Media type of <paramref name="Payload"/>.</param>
/// <param name="Payload">The body exactly as received, as UTF-8 text.</param>
public record WebhookReceived(
    Guid EventId,
    string Source,
    string? EventType,
    DateTimeOffset ReceivedAt,
    string ContentType,
    string Payload);
