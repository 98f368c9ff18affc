using EventBackbone.DeadLetters.Capture;
using EventBackbone.DeadLetters.Persistence;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// The dead-letter store of embedded mode: the PostgreSQL store's rows (<see cref="DeadLetter"/>, its failure history,
/// the replay ledger, the audit) held in memory. Every read and change runs under one lock through
/// <see cref="Transaction{T}"/>, so a change and its audit row are one step, as they are one commit in PostgreSQL.
/// Nothing survives the process, like everything else in embedded mode.
/// </summary>
internal sealed class InMemoryDeadLetterStore(TimeProvider clock)
{
    private readonly Lock _gate = new();
    private long _nextAuditId;

    public Dictionary<Guid, DeadLetter> Letters { get; } = [];

    public List<DeadLetterFailure> Failures { get; } = [];

    /// <summary>Unique per (message, failure count), like <c>replay_ledger</c>: one replay per failure.</summary>
    public Dictionary<(Guid MessageId, int FailureCount), ReplayLedgerEntry> Ledger { get; } = [];

    public List<AuditEntry> Audit { get; } = [];

    /// <summary>Keyed by fingerprint, apart from the letters (as <c>group_notes</c>): a note survives its group emptying and refilling.</summary>
    public Dictionary<string, GroupNote> Notes { get; } = new(StringComparer.Ordinal);

    public Dictionary<Guid, EmbeddedReplayJob> Jobs { get; } = [];

    public DateTimeOffset Now => clock.GetUtcNow();

    public T Transaction<T>(Func<InMemoryDeadLetterStore, T> work)
    {
        lock (_gate)
        {
            return work(this);
        }
    }

    /// <summary>Only inside <see cref="Transaction{T}"/>.</summary>
    public void AddAudit(string actor, string action, Guid? messageId, string? detail) =>
        Audit.Add(new AuditEntry { Id = ++_nextAuditId, At = Now, Actor = actor, Action = action, MessageId = messageId, Detail = detail });

    /// <summary>
    /// What <c>DeadLetterStore.UpsertAsync</c> does in SQL: a new message is a record; a later failure of a known one
    /// (after its replay) counts once more and makes it dead again; the same failure captured twice changes nothing.
    /// </summary>
    public void Capture(CapturedMessage message) => Transaction(store =>
    {
        if (!store.Letters.TryGetValue(message.MessageId, out var letter))
        {
            letter = new DeadLetter
            {
                MessageId = message.MessageId,
                SourceQueue = message.SourceQueue,
                TargetQueue = message.TargetQueue,
                Reason = message.Reason,
                Fingerprint = message.Fingerprint,
                Body = message.Body,
                Headers = message.HeadersJson,
                Status = "dead",
                FirstFailedAt = message.FailedAt,
                LastFailedAt = message.FailedAt,
                FailureCount = 1,
                MessageType = message.MessageType,
                CorrelationId = message.CorrelationId,
            };
            store.Letters.Add(letter.MessageId, letter);
        }
        else
        {
            if (message.FailedAt > letter.LastFailedAt)
            {
                letter.FailureCount++;
                letter.LastFailedAt = message.FailedAt;
            }

            letter.SourceQueue = message.SourceQueue;
            letter.TargetQueue = message.TargetQueue;
            letter.Reason = message.Reason;
            letter.Fingerprint = message.Fingerprint;
            letter.Headers = message.HeadersJson;
            letter.Body = message.Body;
            letter.Status = "dead";
        }

        letter.ExceptionType = message.ExceptionType;
        letter.ExceptionMessage = message.ExceptionMessage;
        letter.StackTrace = message.StackTrace;
        letter.ConsumerType = message.ConsumerType;
        letter.Host = message.Host;
        letter.ContentType = message.ContentType;
        letter.InputAddressMismatch = message.InputAddressMismatch;
        if (!store.Failures.Any(x => x.MessageId == message.MessageId && x.FailedAt == message.FailedAt))
        {
            store.Failures.Add(new DeadLetterFailure
            {
                MessageId = message.MessageId,
                FailedAt = message.FailedAt,
                SourceQueue = message.SourceQueue,
                ExceptionType = message.ExceptionType,
                ExceptionMessage = message.ExceptionMessage,
                Host = message.Host,
            });
        }

        return letter;
    });
}

/// <summary>A replay job of embedded mode; its items in replay order, an outcome each once done.</summary>
internal sealed class EmbeddedReplayJob
{
    public required Guid Id { get; init; }

    public required string RequestedBy { get; init; }

    public required string Reason { get; init; }

    public required string Selection { get; init; }

    public string? IdempotencyKey { get; init; }

    public int? Canary { get; init; }

    public int? RatePerSecond { get; init; }

    /// <summary>Set by resume after a canary: the rest of the job runs.</summary>
    public bool CanaryReleased { get; set; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>running, completed, cancelled, canary-complete or failed.</summary>
    public required string Status { get; set; }

    public required List<EmbeddedReplayItem> Items { get; init; }
}

internal sealed class EmbeddedReplayItem(Guid messageId, int position)
{
    public Guid MessageId { get; } = messageId;

    public int Position { get; } = position;

    public string? Outcome { get; set; }
}
