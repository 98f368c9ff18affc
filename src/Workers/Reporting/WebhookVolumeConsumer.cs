using EventBackbone.Contracts.Webhooks;
using EventBackbone.Workers.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Workers.Reporting;

/// <summary>Counts accepted webhooks per source, type and hour; the inbox makes each webhook count once.</summary>
public sealed class WebhookVolumeConsumer(WorkersDbContext db) : IConsumer<WebhookReceived>
{
    public async Task Consume(ConsumeContext<WebhookReceived> context)
    {
        var webhook = context.Message;
        var at = webhook.ReceivedAt.ToUniversalTime();
        var hour = new DateTimeOffset(at.Year, at.Month, at.Day, at.Hour, 0, 0, TimeSpan.Zero);
        var eventType = webhook.EventType ?? "";
        if (db.Database.IsRelational())
        {
            // One atomic statement: concurrent consumers of the same hour must not lose each other's increments.
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"""
                INSERT INTO report_webhooks_hourly (source, event_type, hour, count) VALUES ({webhook.Source}, {eventType}, {hour}, 1)
                ON CONFLICT (source, event_type, hour) DO UPDATE SET count = report_webhooks_hourly.count + 1
                """,
                context.CancellationToken);
            return;
        }

        // Embedded mode's in-memory store runs one consume at a time per row well enough for a demo.
        var row = await db.WebhookHourly.FindAsync([webhook.Source, eventType, hour], context.CancellationToken);
        if (row is null)
        {
            db.WebhookHourly.Add(new WebhookHourlyCount { Source = webhook.Source, EventType = eventType, Hour = hour, Count = 1 });
        }
        else
        {
            row.Count++;
        }

        await db.SaveChangesAsync(context.CancellationToken);
    }
}
