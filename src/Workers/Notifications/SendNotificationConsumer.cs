using EventBackbone.Contracts.Notifications;
using EventBackbone.Workers.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Workers.Notifications;

/// <summary>
/// Delivers a notification through the provider and records the outcome. A provider that stays unavailable through
/// the HTTP retries gets the message redelivered later (durable scheduler); after the last redelivery the notification
/// is recorded as failed and <see cref="NotificationFailed"/> tells its workflow — never an endless retry.
/// </summary>
public sealed partial class SendNotificationConsumer(
    WorkersDbContext db,
    INotificationProvider provider,
    NotificationSettings settings,
    TimeProvider clock,
    ILogger<SendNotificationConsumer> logger) : IConsumer<SendNotification>
{
    public async Task Consume(ConsumeContext<SendNotification> context)
    {
        var notification = context.Message;
        // Already decided (the same notification sent twice as different messages): answer as before.
        if (await db.Notifications.AsNoTracking().SingleOrDefaultAsync(x => x.NotificationId == notification.NotificationId, context.CancellationToken) is { } earlier)
        {
            await PublishOutcomeAsync(context, earlier);
            return;
        }

        string? refusal;
        try
        {
            refusal = await provider.SendAsync(notification, context.CancellationToken);
        }
        catch (NotificationProviderUnavailableException unavailable) when (context.GetRedeliveryCount() >= settings.RedeliveryDelays.Count)
        {
            refusal = unavailable.Message;
        }

        var record = new NotificationRecord
        {
            NotificationId = notification.NotificationId,
            CorrelationId = notification.CorrelationId,
            Channel = notification.Channel,
            Template = notification.Template,
            Recipient = notification.Recipient,
            Status = refusal is null ? "sent" : "failed",
            FailureReason = refusal,
            RecordedAt = clock.GetUtcNow(),
        };
        db.Notifications.Add(record);
        await db.SaveChangesAsync(context.CancellationToken);
        if (refusal is not null)
        {
            LogFailed(logger, notification.NotificationId, notification.Template, refusal);
        }

        await PublishOutcomeAsync(context, record);
    }

    private static Task PublishOutcomeAsync(ConsumeContext context, NotificationRecord record) =>
        record.Status == "sent"
            ? context.Publish(new NotificationSent(record.NotificationId, record.CorrelationId, record.Template, record.RecordedAt))
            : context.Publish(new NotificationFailed(record.NotificationId, record.CorrelationId, record.Template, record.FailureReason ?? "unknown", record.RecordedAt));

    [LoggerMessage(LogLevel.Warning, "Notification {NotificationId} ('{Template}') failed for good: {Reason}")]
    private static partial void LogFailed(ILogger logger, Guid notificationId, string template, string reason);
}
