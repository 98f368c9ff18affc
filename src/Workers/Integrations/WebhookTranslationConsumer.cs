using EventBackbone.Contracts.Webhooks;
using EventBackbone.Workers.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Workers.Integrations;

/// <summary>
/// Translates each accepted webhook once (the inbox sees to that) and records the outcome; a type it does not know or
/// a payload it cannot read is recorded and acknowledged — an exception would only loop through retries to the error
/// queue for a message that can never succeed.
/// </summary>
public sealed class WebhookTranslationConsumer(WorkersDbContext db, IntegrationSettings settings, TimeProvider clock)
    : IConsumer<WebhookReceived>
{
    public async Task Consume(ConsumeContext<WebhookReceived> context)
    {
        var webhook = context.Message;
        // The inbox absorbs redeliveries of one message; this absorbs the same event arriving as another message
        // (a copy racing this one loses on the primary key, is retried and ends here).
        if (await db.IntegrationRecords.AnyAsync(x => x.EventId == webhook.EventId, context.CancellationToken))
        {
            return;
        }

        var translation = WebhookTranslator.Translate(webhook, settings.For(webhook.Source));
        db.IntegrationRecords.Add(new IntegrationRecord
        {
            EventId = webhook.EventId,
            Source = webhook.Source,
            EventType = translation.EventType,
            Outcome = translation.Outcome,
            Detail = translation.Detail,
            RecordedAt = clock.GetUtcNow(),
        });
        await db.SaveChangesAsync(context.CancellationToken);
        if (translation.DomainEvent is { } domainEvent)
        {
            await context.Publish(domainEvent, domainEvent.GetType(), context.CancellationToken);
        }
    }
}
