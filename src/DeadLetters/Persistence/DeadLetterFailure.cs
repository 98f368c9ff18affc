namespace EventBackbone.DeadLetters.Persistence;

/// <summary>
/// One failure of a dead letter (table <c>dead_letter_failures</c>): a message that fails again after a replay keeps
/// one record in <c>dead_letters</c> and gains a row here, so operators see what each attempt died of.
/// </summary>
public sealed class DeadLetterFailure
{
    public long Id { get; set; }

    public Guid MessageId { get; set; }

    /// <summary>MassTransit's fault time: the same failure captured twice (a crash before the ack) is one row.</summary>
    public DateTimeOffset FailedAt { get; set; }

    public required string SourceQueue { get; set; }

    public string? ExceptionType { get; set; }

    public string? ExceptionMessage { get; set; }

    public string? Host { get; set; }
}
