namespace EventBackbone.Workers.Notifications;

/// <summary>What the Notifications module did with a notification (table <c>notifications</c>).</summary>
public sealed class NotificationRecord
{
    public Guid NotificationId { get; set; }

    public Guid CorrelationId { get; set; }

    public required string Channel { get; set; }

    public required string Template { get; set; }

    public required string Recipient { get; set; }

    /// <summary><c>sent</c> or <c>failed</c>.</summary>
    public required string Status { get; set; }

    public string? FailureReason { get; set; }

    public DateTimeOffset RecordedAt { get; set; }
}
