using System.Text;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Ingestion.Api.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;

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
    /// <returns>The event id, and whether this was a repeat of an already accepted delivery (then nothing new is published).</returns>
    public async Task<(Guid EventId, bool Duplicate)> AcceptAsync(
        string source, string? eventType, string? dedupeKey, string contentType, byte[] body, CancellationToken cancellationToken)
    {
        // The common retry is sequential: answer it without a failed insert.
        if (dedupeKey is not null && await FindAsync(source, dedupeKey, cancellationToken) is { } accepted)
        {
            return (accepted, true);
        }

        var receipt = new WebhookReceipt
        {
            EventId = NewId.NextGuid(),
            Source = source,
            EventType = eventType,
            DedupeKey = dedupeKey,
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
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException race) when (race.InnerException is PostgresException
        {
            SqlState: PostgresErrorCodes.UniqueViolation,
            ConstraintName: IngestionDbContext.DedupeIndex,
        })
        {
            // A concurrent copy of the same delivery committed first; this one's receipt and outbox row rolled back.
            db.ChangeTracker.Clear();
            var winner = await FindAsync(source, dedupeKey!, cancellationToken)
                ?? throw new InvalidOperationException($"Webhook {source}/{dedupeKey} collided with a receipt that cannot be found.", race);
            return (winner, true);
        }

        logger.LogInformation("Accepted webhook {EventId} from {Source}", receipt.EventId, source);
        return (receipt.EventId, false);
    }

    private async Task<Guid?> FindAsync(string source, string dedupeKey, CancellationToken cancellationToken) =>
        await db.WebhookReceipts.AsNoTracking()
            .Where(x => x.Source == source && x.DedupeKey == dedupeKey)
            .Select(x => (Guid?)x.EventId)
            .SingleOrDefaultAsync(cancellationToken);
}
