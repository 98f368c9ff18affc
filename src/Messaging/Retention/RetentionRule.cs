namespace EventBackbone.Messaging.Retention;

/// <summary>
/// How long one table keeps its rows: those matching <paramref name="Expired"/>, a condition in which <c>$1</c> is the
/// cutoff (now − <paramref name="Age"/>), are deleted.
/// </summary>
/// <param name="Table">Also the <c>table</c> tag of <c>backbone.retention.deleted</c>.</param>
public sealed record RetentionRule(string Table, string Expired, TimeSpan Age)
{
    /// <summary>
    /// A data-modifying statement over the deleted rows, the CTE <c>expired</c> (<c>$3</c> = now), run in the same
    /// statement: e.g. an audit entry for each deletion, which then commits or fails with it.
    /// </summary>
    public string? Then { get; init; }

    /// <summary>
    /// The columns of each deleted row that <see cref="Then"/> reads. Only those: <c>RETURNING *</c> would carry every
    /// body of a batch through the statement's memory.
    /// </summary>
    public string Returning { get; init; } = "1";
}
