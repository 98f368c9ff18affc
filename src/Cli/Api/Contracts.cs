namespace EventBackbone.Cli.Api;

// The dead-letter API's JSON, read with System.Text.Json's web defaults (camelCase). Copied rather than referenced:
// the tool must build and ship without the server's assemblies, and the JSON is the contract.

public sealed record DeadLetterSummary(
    Guid MessageId, string? SourceQueue, string? TargetQueue, string? Reason, string? MessageType, string? ExceptionType,
    string? ExceptionMessage, string? Fingerprint, int FailureCount, DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt, string? Status);

public sealed record DeadLetterGroup(
    string? Fingerprint, string? ExceptionType, string? MessageType, string? SampleExceptionMessage, int Count,
    DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt);

/// <summary>One page of the list: <paramref name="Total"/> counts every match, <paramref name="Next"/> is the cursor of the page after this one.</summary>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetterSummary> Items, int Total, string? Next);

/// <summary>A dead letter's body, read on request (the read is audited).</summary>
public sealed record DeadLetterBody(Guid MessageId, string? ContentType, string? Body);

/// <summary>What a replay would send, without sending it.</summary>
public sealed record ReplayDryRun(int Count, IReadOnlyList<QueueCount> Queues, DateTimeOffset? OldestFailedAt, DateTimeOffset? NewestFailedAt, int AlreadyReplayed, string? Note);

public sealed record QueueCount(string? Queue, int Count);

public sealed record ReplayJobPage(IReadOnlyList<ReplayJob> Items, string? Next);

/// <param name="Headers">The transport headers as the text of a JSON object.</param>
/// <param name="Failures">Each failure, oldest first (absent from an older API: then empty).</param>
/// <param name="Replays">Each replay, with who asked and whether the broker confirmed it.</param>
/// <param name="InputAddressMismatch">Why the message's MT-Fault-InputAddress was not believed, if so (absent from an older API).</param>
public sealed record DeadLetterDetail(
    DeadLetterSummary Summary, Guid? CorrelationId, string? StackTrace, string? ConsumerType, string? Host, string? ContentType,
    int BodyLength, string? Headers, IReadOnlyList<FailureRecord>? Failures = null, IReadOnlyList<ReplayRecord>? Replays = null,
    string? InputAddressMismatch = null);

public sealed record FailureRecord(DateTimeOffset FailedAt, string? SourceQueue, string? ExceptionType, string? ExceptionMessage, string? Host);

public sealed record ReplayRecord(int FailureCount, string? Status, string? RequestedBy, DateTimeOffset RequestedAt, DateTimeOffset? ConfirmedAt, Guid? JobId);

public sealed record AuditEntry(long Id, DateTimeOffset At, string? Actor, string? Action, Guid? MessageId, string? Detail);

/// <param name="Outcome"><c>replayed</c> or <c>already-replayed</c>.</param>
public sealed record ReplayOneResult(Guid MessageId, string? Outcome);

public sealed record StatusChange(Guid MessageId, string? Status);

public sealed record ReasonBody(string? Reason);

public sealed record ReplayFilter(string? Queue, string? MessageType, string? Exception, DateTimeOffset? From, DateTimeOffset? To, string? Q);

/// <param name="Canary">Replay only this many first, then stop (status <c>canary-complete</c>) until resumed.</param>
/// <param name="RatePerSecond">At most this many replays a second.</param>
public sealed record ReplayRequest(
    IReadOnlyList<Guid>? MessageIds, string? Fingerprint, ReplayFilter? Filter, string? Reason, int? Canary = null, int? RatePerSecond = null);

/// <param name="Status"><c>running</c>, <c>completed</c>, <c>failed</c>, <c>cancelled</c> or <c>canary-complete</c>.</param>
public sealed record ReplayJob(
    Guid JobId, string? Status, int Total, int Replayed, int AlreadyReplayed, int NotFound, int Failed,
    string? RequestedBy, DateTimeOffset? CreatedAt, DateTimeOffset? FinishedAt, int Pending = 0, string? Reason = null, int? Canary = null, int? RatePerSecond = null)
{
    public int Done => Replayed + AlreadyReplayed + NotFound + Failed;

    public bool IsFinished => Status is "completed" or "failed" || FinishedAt is not null;

    public bool HasFailures => Failed > 0 || NotFound > 0;
}

/// <summary>RFC 9457 problem details; <c>errors</c> is what ASP.NET Core adds for a validation problem.</summary>
public sealed record Problem(string? Type, string? Title, int? Status, string? Detail, Dictionary<string, string[]>? Errors);
