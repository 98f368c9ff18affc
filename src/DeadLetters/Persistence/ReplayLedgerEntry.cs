namespace EventBackbone.DeadLetters.Persistence;

/// <summary>
/// One replay of one failure of a message (table <c>replay_ledger</c>), unique per message and failure count: two
/// operators clicking at once, or a retried request, cannot send the same failure twice. A message that fails again
/// after its replay has a higher failure count, so it can be replayed again.
/// </summary>
public sealed class ReplayLedgerEntry
{
    public long Id { get; set; }

    public Guid MessageId { get; set; }

    public int FailureCount { get; set; }

    /// <summary><c>pending</c> until the broker confirmed the publish, then <c>confirmed</c>.</summary>
    public required string Status { get; set; }

    public required string RequestedBy { get; set; }

    public DateTimeOffset RequestedAt { get; set; }

    public DateTimeOffset? ConfirmedAt { get; set; }

    /// <summary>
    /// The replaying process's liveness key: it holds a PostgreSQL advisory lock on it for as long as it lives, so a
    /// pending claim whose owner's lock is free was left by a crash and can be resolved.
    /// </summary>
    public int ClaimedBy { get; set; }

    /// <summary>The replay job that sent it, if any: resuming that job counts it as its own, not as "already replayed".</summary>
    public Guid? JobId { get; set; }
}
