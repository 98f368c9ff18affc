namespace EventBackbone.Workers.Integrations;

/// <summary>What the Integrations module made of an accepted webhook (table <c>integration_records</c>).</summary>
public sealed class IntegrationRecord
{
    public Guid EventId { get; set; }

    public required string Source { get; set; }

    public string? EventType { get; set; }

    /// <summary><c>translated</c>, <c>ignored</c> (a type we do not translate) or <c>malformed</c> (fields missing).</summary>
    public required string Outcome { get; set; }

    public string? Detail { get; set; }

    public DateTimeOffset RecordedAt { get; set; }
}
