using System.Text;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Ingestion.Api.Persistence;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Accepts a webhook: the receipt and the <see cref="WebhookReceived"/> outbox row commit in one transaction, so a
/// 202 means both are durable and the event will be published, and a failed commit publishes nothing.
/// </summary>
public sealed class WebhookAcceptance(
    IngestionDbContext db,
    IPublishEndpoint publishEndpoint,
    TimeProvider clock,
    ILogger<WebhookAcceptance> logger)
{
    public async Task<Guid> AcceptAsync(string source, string? eventType, string contentType, byte[] body, CancellationToken cancellationToken)
    {
        var receipt = new WebhookReceipt
        {
            EventId = NewId.NextGuid(),
            Source = source,
            EventType = eventType,
            ContentType = contentType,
            Body = body,
            ReceivedAt = clock.GetUtcNow(),
        };
        db.WebhookReceipts.Add(receipt);
        // The bus outbox turns this publish into a row of the same DbContext; nothing reaches the broker before commit.
        // The message id is the event id, so the event's status can tell whether its message has left the outbox.
        await publishEndpoint.Publish(
            new WebhookReceived(receipt.EventId, source, receipt.EventType, receipt.ReceivedAt, contentType, Encoding.UTF8.GetString(body)),
            context => context.MessageId = receipt.EventId,
            cancellationToken);
        await db.SaveChangesAsync(cancellationToken);

        logger.LogInformation("Accepted webhook {EventId} from {Source}", receipt.EventId, source);
        return receipt.EventId;
    }
}
