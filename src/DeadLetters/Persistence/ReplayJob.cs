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

    /// <summary><c>running</c> until every item has an outcome, then <c>completed</c>.</summary>
    public required string Status { get; set; }

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
