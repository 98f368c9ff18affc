namespace EventBackbone.DeadLetters.Persistence;

/// <summary>
/// A replay of many dead letters (table <c>replay_jobs</c>), run in the background so it can report progress, and
/// resumed when the service starts again after a crash: its items say which messages are still to do.
/// </summary>
public sealed class ReplayJob
{
    public Guid Id { get; set; }

    public required string RequestedBy { get; set; }

    public string? Reason { get; set; }

    /// <summary>What the operator asked for (ids, fingerprint or filter), for the audit and the status page.</summary>
    public required string Selection { get; set; }

    /// <summary>
    /// <c>running</c> until every item has an outcome, then <c>completed</c> (or <c>failed</c> when any item failed);
    /// <c>cancelled</c> by an operator, <c>canary-complete</c> after its canary. Resume makes any of them running again.
    /// </summary>
    public required string Status { get; set; }

    /// <summary>Replay only this many first, then stop as <c>canary-complete</c> so the operator can look before the rest.</summary>
    public int? Canary { get; set; }

    /// <summary>Set when the canary stopped the job and it was resumed: the rest then runs without stopping again.</summary>
    public bool CanaryPassed { get; set; }

    /// <summary>At most this many replays a second; null runs unthrottled.</summary>
    public int? RatePerSecond { get; set; }

    /// <summary>The caller's key for this request: the same key from the same caller within a day returns this job instead of a second one.</summary>
    public string? IdempotencyKey { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    public List<ReplayJobItem> Items { get; } = [];
}

/// <summary>One message of a replay job (table <c>replay_job_items</c>); no outcome yet means still to do.</summary>
public sealed class ReplayJobItem
{
    public Guid JobId { get; set; }

    public Guid MessageId { get; set; }

    /// <summary>The order the messages are replayed in (oldest failure first).</summary>
    public int Position { get; set; }

    /// <summary><c>replayed</c>, <c>already-replayed</c>, <c>not-found</c>, <c>failed</c>, or null while still to do.</summary>
    public string? Outcome { get; set; }
}
