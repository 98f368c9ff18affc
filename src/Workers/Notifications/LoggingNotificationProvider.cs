using EventBackbone.Contracts.Notifications;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Workers.Notifications;

/// <summary>Without a configured provider (embedded mode): notifications are written to the log instead of delivered.</summary>
public sealed partial class LoggingNotificationProvider(ILogger<LoggingNotificationProvider> logger) : INotificationProvider
{
    public Task<string?> SendAsync(SendNotification notification, CancellationToken cancellationToken)
    {
        LogNotification(logger, notification.Template, notification.Channel, notification.NotificationId);
        return Task.FromResult<string?>(null);
    }

    // The recipient is personal data: the id is enough to find it in the notifications table.
    [LoggerMessage(LogLevel.Information, "Notification '{Template}' via {Channel} ({NotificationId}) logged, not delivered: no provider is configured")]
    private static partial void LogNotification(ILogger logger, string template, string channel, Guid notificationId);
}
