using EventBackbone.Contracts.Webhooks;
using EventBackbone.Workers.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.Workers.Webhooks;

/// <summary>Stores every accepted webhook in the workers' database, where the integration and reporting modules read it.</summary>
public sealed class WebhookReceivedConsumer(WorkersDbContext db, TimeProvider clock, ILogger<WebhookReceivedConsumer> logger)
    : IConsumer<WebhookReceived>
{
    public async Task Consume(ConsumeContext<WebhookReceived> context)
    {
        var webhook = context.Message;
        // The inbox (per message id and consumer) skips a redelivered message; the event id as primary key also keeps
        // a copy of the same event under another message id from storing a second row.
        if (await db.InboundWebhooks.AnyAsync(x => x.EventId == webhook.EventId, context.CancellationToken))
        {
            logger.LogInformation("Webhook {EventId} from {Source} was already stored; redelivery ignored", webhook.EventId, webhook.Source);
            return;
        }

        db.InboundWebhooks.Add(new InboundWebhook
        {
            EventId = webhook.EventId,
            Source = webhook.Source,
            EventType = webhook.EventType,
            ReceivedAt = webhook.ReceivedAt,
            ConsumedAt = clock.GetUtcNow(),
            MessageId = context.MessageId,
        });
        try
        {
            await db.SaveChangesAsync(context.CancellationToken);
        }
        catch (DbUpdateException concurrentCopy) when (concurrentCopy.InnerException is PostgresException
        {
            SqlState: PostgresErrorCodes.UniqueViolation,
        })
        {
            // Two copies delivered at once both passed the check above; the key let exactly one insert win.
            logger.LogInformation("Webhook {EventId} from {Source} was stored by a concurrent delivery", webhook.EventId, webhook.Source);
            return;
        }

        logger.LogInformation("Consumed webhook {EventId} from {Source}", webhook.EventId, webhook.Source);
    }
}
