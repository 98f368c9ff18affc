namespace EventBackbone.Contracts.Notifications;

/// <summary>A notification could not be delivered after every retry the policy allows.</summary>
/// <param name="NotificationId">The notification.</param>
/// <param name="CorrelationId">The workflow it belongs to.</param>
/// <param name="Template">Which message it was.</param>
/// <param name="Reason">Why, for people: the last failure.</param>
/// <param name="FailedAt">When it was given up.</param>
public record NotificationFailed(
    Guid NotificationId,
    Guid CorrelationId,
    string Template,
    string Reason,
    DateTimeOffset FailedAt);
