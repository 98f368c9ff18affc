using System.Text;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Ingestion.Api.Persistence;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>Records an accepted webhook in the edge's database and publishes it as <see cref="WebhookReceived"/>.</summary>
public sealed class WebhookAcceptance(
    IngestionDbContext db,
    IPublishEndpoint publishEndpoint,
    TimeProvider clock,
    ILogger<WebhookAcceptance> logger)
{
    public async Task<Guid> AcceptAsync(string source, string contentType, byte[] body, CancellationToken cancellationToken)
    {
        var receipt = new WebhookReceipt
        {
            EventId = NewId.NextGuid(),
            Source = source,
            ContentType = contentType,
            Body = body,
            ReceivedAt = clock.GetUtcNow(),
            Status = WebhookStatus.Accepted,
        };
        db.WebhookReceipts.Add(receipt);
        await db.SaveChangesAsync(cancellationToken);

        // Committed first, published second: until the transactional outbox replaces this, a crash between the two
        // leaves an accepted receipt unpublished (visible as status 'Accepted'), never a published ghost.
        await publishEndpoint.Publish(
            new WebhookReceived(receipt.EventId, source, receipt.EventType, receipt.ReceivedAt, contentType, Encoding.UTF8.GetString(body)),
            cancellationToken);
        receipt.Status = WebhookStatus.Published;
        receipt.PublishedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);

        logger.LogInformation("Accepted webhook {EventId} from {Source}", receipt.EventId, source);
        return receipt.EventId;
    }
}
