namespace EventBackbone.DeadLetters.Persistence;

/// <summary>
/// One dead-lettered message (table <c>dead_letters</c>), keyed by its MessageId: a message that fails again after a
/// replay updates this record (failure count, history) instead of adding another.
/// </summary>
public sealed class DeadLetter
{
    public Guid MessageId { get; set; }

    public Guid? CorrelationId { get; set; }

    /// <summary>The queue it was captured from, e.g. <c>create-user-account_error</c>.</summary>
    public required string SourceQueue { get; set; }

    /// <summary>Where a replay goes: the source queue without its <c>_error</c>/<c>_skipped</c> suffix.</summary>
    public required string TargetQueue { get; set; }

    /// <summary>
    /// Set when the message's <c>MT-Fault-InputAddress</c> names another queue than <see cref="TargetQueue"/> (or none):
    /// shown to operators, never followed.
    /// </summary>
    public string? InputAddressMismatch { get; set; }

    /// <summary><c>fault</c> (a consumer threw) or <c>skipped</c> (no consumer took it).</summary>
    public required string Reason { get; set; }

    public string? MessageType { get; set; }

    public string? ExceptionType { get; set; }

    public string? ExceptionMessage { get; set; }

    public string? StackTrace { get; set; }

    public string? ConsumerType { get; set; }

    public string? Host { get; set; }

    /// <summary>Exception type + message type + top frame of application code: failures with one cause share it.</summary>
    public required string Fingerprint { get; set; }

    public string? ContentType { get; set; }

    public required byte[] Body { get; set; }

    /// <summary>Every AMQP header, as JSON.</summary>
    public required string Headers { get; set; }

    public DateTimeOffset FirstFailedAt { get; set; }

    public DateTimeOffset LastFailedAt { get; set; }

    public int FailureCount { get; set; }

    /// <summary><c>dead</c> until an operator acts on it.</summary>
    public required string Status { get; set; }
}
