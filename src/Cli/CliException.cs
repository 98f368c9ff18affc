namespace EventBackbone.Cli;

/// <summary>
/// An expected failure, already worded for an operator: printed as <c>error: …</c> on stderr and turned into
/// <see cref="ExitCode"/>, never into a stack trace.
/// </summary>
public sealed class CliException : Exception
{
    public CliException(int exitCode, string message, IReadOnlyList<string>? details = null)
        : base(message)
    {
        ExitCode = exitCode;
        Details = details ?? [];
    }

    public int ExitCode { get; }

    /// <summary>Further lines, e.g. one per validation error.</summary>
    public IReadOnlyList<string> Details { get; }
}
