namespace EventBackbone.Workers.Reporting;

/// <summary>Accepted webhooks per source, event type and hour (table <c>report_webhooks_hourly</c>).</summary>
public sealed class WebhookHourlyCount
{
    public required string Source { get; set; }

    /// <summary>Empty when the sender's scheme names no type.</summary>
    public required string EventType { get; set; }

    public DateTimeOffset Hour { get; set; }

    public long Count { get; set; }
}
