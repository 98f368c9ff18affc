namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// One group of bus-outbox messages: everything one transaction sent, or one scheduled message. The delivery service
/// leases whole groups, so a group's messages keep their order even with several delivery instances.
/// </summary>
internal sealed class OutboxState
{
    public Guid OutboxId { get; set; }

    public DateTime Created { get; set; }

    /// <summary>Due time. Null on insert means "now" by the database's clock (column default), not the app's.</summary>
    public DateTime? NotBefore { get; set; }

    /// <summary>Set for scheduled messages, so a cancelled schedule can delete its row before it is due.</summary>
    public Guid? ScheduleTokenId { get; set; }

    public Guid? LockId { get; set; }

    public DateTime? LockedUntil { get; set; }

    public int Attempts { get; set; }

    public string? LastError { get; set; }

    /// <summary>Set when the group failed too often: parked rows are never retried automatically and block nothing.</summary>
    public DateTime? ParkedAt { get; set; }
}
