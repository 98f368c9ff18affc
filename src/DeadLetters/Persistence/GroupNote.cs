namespace EventBackbone.DeadLetters.Persistence;

/// <summary>
/// An operator's note on a failure group (table <c>group_notes</c>), keyed by the fingerprint alone and not tied to any
/// dead letter: it survives new failures arriving in the group and the group emptying and filling again.
/// </summary>
public sealed class GroupNote
{
    public const int MaxText = 2000;

    public required string Fingerprint { get; set; }

    public required string Text { get; set; }

    /// <summary>Someone is on it: the console shows the group as being investigated.</summary>
    public bool Investigating { get; set; }

    public required string UpdatedBy { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
