namespace EventBackbone.DeadLetters.Persistence;

/// <summary>Who did what to which dead letter, when and why (table <c>dead_letter_audit</c>); never updated, deleted only after <c>Backbone:DeadLetters:AuditRetention</c>.</summary>
public sealed class AuditEntry
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    /// <summary>The caller's JWT subject, or <c>anonymous</c> for a refused call without a valid token.</summary>
    public required string Actor { get; set; }

    /// <summary>e.g. <c>read-body</c>, <c>refused</c>.</summary>
    public required string Action { get; set; }

    public Guid? MessageId { get; set; }

    public string? Detail { get; set; }
}
