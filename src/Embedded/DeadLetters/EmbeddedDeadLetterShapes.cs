using EventBackbone.DeadLetters;
using EventBackbone.DeadLetters.Replay;

namespace EventBackbone.Embedded.DeadLetters;

// The JSON shapes of /api/v1/dead-letters that the records of src/DeadLetters do not (yet) carry, as the API contract
// fixes them; where src/DeadLetters has the record (DeadLetterSummary, FailureRecord, ReplayRecord, ReplayFilter,
// ReasonBody, EditRequest), embedded mode answers with that record itself.

internal sealed record DeadLetterPage(IReadOnlyList<DeadLetterSummary> Items, int Total, string? Next);

internal sealed record LastReplay(Guid? JobId, string RequestedBy, DateTimeOffset RequestedAt, string Status);

internal sealed record GroupView(
    string Fingerprint, string? ExceptionType, string? MessageType, string? SampleExceptionMessage, int Count, DateTimeOffset FirstFailedAt,
    DateTimeOffset LastFailedAt, IReadOnlyList<string> Queues, LastReplay? LastReplay, GroupNote? Note);

internal sealed record NoteBody(string? Text, bool Investigating);

internal sealed record DeadLetterView(
    DeadLetterSummary Summary, Guid? CorrelationId, string? StackTrace, string? ConsumerType, string? Host, string? ContentType, int BodyLength, string Headers,
    IReadOnlyList<FailureRecord> Failures, IReadOnlyList<ReplayRecord> Replays, string? InputAddressMismatch);

internal sealed record BodyView(Guid MessageId, string? ContentType, string Body);

internal sealed record QueueCount(string Queue, int Count);

internal sealed record DryRunView(
    int Count, IReadOnlyList<QueueCount> Queues, DateTimeOffset? OldestFailedAt, DateTimeOffset? NewestFailedAt, int AlreadyReplayed, bool OnlyFailingQueue, string Note);

/// <summary>A replay's selection (as <see cref="ReplayRequest"/>) with the job's options.</summary>
internal sealed record ReplayJobRequest(
    IReadOnlyList<Guid>? MessageIds, string? Fingerprint, ReplayFilter? Filter, string? Reason, int? Canary, int? RatePerSecond, string? IdempotencyKey);

internal sealed record JobView(
    Guid JobId, string Status, int Total, int Replayed, int AlreadyReplayed, int NotFound, int Failed, int Pending, string RequestedBy, string Reason,
    string Selection, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, int? Canary, int? RatePerSecond, int Percent);

internal sealed record JobItemView(Guid MessageId, int Position, string? Outcome);

internal sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>A bulk archive, restore or delete: ids, or the list's filter with a status.</summary>
internal sealed record BulkRequest(IReadOnlyList<Guid>? MessageIds, BulkFilter? Filter, string? Reason);

internal sealed record BulkFilter(string? Status, string? Queue, string? MessageType, string? Exception, string? Fingerprint, DateTimeOffset? From, DateTimeOffset? To, string? Q);

internal sealed record BulkResult(int Matched, int Changed);

internal sealed record EditForm(bool Enabled, string? MessageType, string? Contract, IReadOnlyList<EditField> Fields);

internal sealed record EditField(string Name, string Type);

internal sealed record Overview(IReadOnlyList<QueueCount> WaitingByQueue, IReadOnlyList<GroupView> LargestGroups, IReadOnlyList<JobView> RunningJobs, Totals Totals);

internal sealed record Totals(int Dead, int Archived, int Replayed);
