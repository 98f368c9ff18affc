namespace EventBackbone.Contracts.Notifications;

/// <summary>The provider accepted a notification for delivery.</summary>
/// <param name="NotificationId">The notification.</param>
/// <param name="CorrelationId">The workflow it belongs to.</param>
/// <param name="Template">Which message it was.</param>
/// <param name="SentAt">When the provider accepted it.</param>
public record NotificationSent(
    Guid NotificationId,
    Guid CorrelationId,
    string Template,
    DateTimeOffset SentAt);
