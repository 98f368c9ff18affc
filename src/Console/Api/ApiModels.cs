using System.Text.Json;

namespace EventBackbone.Console.Api;

// The shapes of the APIs the console reads (docs: API contract of the dead-letter service, README "HTTP API").
// Only what the screens show; unknown fields are ignored, so the APIs may grow.

internal sealed record DeadLetterPage(IReadOnlyList<DeadLetterSummary> Items, int Total, string? Next);

internal sealed record DeadLetterSummary(
    Guid MessageId, string SourceQueue, string? TargetQueue, string? Reason, string? MessageType, string? ExceptionType,
    string? ExceptionMessage, string Fingerprint, int FailureCount, DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt, string Status);

internal sealed record GroupReplay(Guid JobId, string RequestedBy, DateTimeOffset RequestedAt, string Status);

internal sealed record GroupNote(string Text, bool Investigating, string? By, DateTimeOffset? At);

internal sealed record DeadLetterGroup(
    string Fingerprint, string? ExceptionType, string? MessageType, string? SampleExceptionMessage, int Count,
    DateTimeOffset FirstFailedAt, DateTimeOffset LastFailedAt, IReadOnlyList<string>? Queues, GroupReplay? LastReplay, GroupNote? Note);

internal sealed record FailureRecord(DateTimeOffset FailedAt, string SourceQueue, string? ExceptionType, string? ExceptionMessage, string? Host);

internal sealed record ReplayRecord(int FailureCount, string Status, string RequestedBy, DateTimeOffset RequestedAt, DateTimeOffset? ConfirmedAt, Guid? JobId);

internal sealed record DeadLetterDetail(
    DeadLetterSummary Summary, Guid? CorrelationId, string? StackTrace, string? ConsumerType, string? Host, string? ContentType, int? BodyLength,
    string? Headers, IReadOnlyList<FailureRecord>? Failures, IReadOnlyList<ReplayRecord>? Replays, string? InputAddressMismatch);

internal sealed record MessageBody(Guid MessageId, string? ContentType, string Body);

internal sealed record QueueCount(string Queue, int Count);

internal sealed record DryRun(
    int Count, IReadOnlyList<QueueCount> Queues, DateTimeOffset? OldestFailedAt, DateTimeOffset? NewestFailedAt, int AlreadyReplayed, bool OnlyFailingQueue, string? Note);

internal sealed record ReplayJob(
    Guid JobId, string Status, int Total, int Replayed, int AlreadyReplayed, int NotFound, int Failed, int Pending, string RequestedBy, string? Reason,
    string? Selection, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, int? Canary, int? RatePerSecond, double Percent)
{
    public bool Finished => Status is not "running";

    public bool CanCancel => Status == "running";

    public bool CanResume => Status is "cancelled" or "canary-complete" or "failed";
}

internal sealed record ReplayJobPage(IReadOnlyList<ReplayJob> Items, string? Next);

internal sealed record ReplayJobItem(Guid MessageId, int Position, string? Outcome);

internal sealed record ReplayJobItemPage(IReadOnlyList<ReplayJobItem> Items, string? Next);

internal sealed record BulkResult(int Matched, int Changed);

internal sealed record EditField(string Name, string Type);

internal sealed record EditInfo(bool Enabled, string? MessageType, string? Contract, IReadOnlyList<EditField>? Fields);

internal sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string Action, Guid? MessageId, string? Detail);

internal sealed record Totals(int Dead, int Archived, int Replayed);

internal sealed record Overview(IReadOnlyList<QueueCount> WaitingByQueue, IReadOnlyList<DeadLetterGroup> LargestGroups, IReadOnlyList<ReplayJob> RunningJobs, Totals Totals);

internal sealed record ParkedGroup(string GroupId, int Attempts, DateTimeOffset? ParkedAt, string? LastError);

internal sealed record OutboxStatus(string Service, int Pending, double? OldestPendingAgeSeconds, IReadOnlyList<ParkedGroup>? Parked);

internal sealed record Capabilities(bool Read, bool Replay, bool Edit, bool Delete, bool Reports, bool Signups);

internal sealed record Permissions(string? Caller, IReadOnlyList<string> Scopes, Capabilities Can);

/// <summary>The list's filters (also a replay's and a bulk action's selection), as the query string keeps them.</summary>
internal sealed record MessageFilter(string? Queue, string? MessageType, string? Exception, string? Fingerprint, DateTimeOffset? From, DateTimeOffset? To, string? Q)
{
    public bool IsEmpty => Queue is null && MessageType is null && Exception is null && Fingerprint is null && From is null && To is null && Q is null;
}

/// <summary>A look-up's answer shown as it came (events, commands, signups and reports have shapes of their own).</summary>
internal sealed record JsonAnswer(JsonElement Json);
