namespace EventBackbone.Contracts.Notifications;

/// <summary>Deliver a notification through the external provider. Sent to the queue <c>send-notification</c>.</summary>
/// <param name="NotificationId">Its id; the provider receives it as the idempotency key, so a redelivery never notifies twice.</param>
/// <param name="CorrelationId">The workflow it belongs to (a signup's id); the reply events carry it back.</param>
/// <param name="Channel">How to deliver it, e.g. <c>email</c>.</param>
/// <param name="Template">Which message, e.g. <c>welcome</c> or <c>verification-reminder</c>.</param>
/// <param name="Recipient">Where to, e.g. an email address.</param>
/// <param name="Data">Values for the template.</param>
public record SendNotification(
    Guid NotificationId,
    Guid CorrelationId,
    string Channel,
    string Template,
    string Recipient,
    IReadOnlyDictionary<string, string> Data);
