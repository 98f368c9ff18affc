namespace EventBackbone.Cli;

/// <summary>
/// Everything the tool touches outside itself, so that tests can run every command in-process against a stub handler
/// and read what it printed.
/// </summary>
/// <param name="Handler">Sends the HTTP requests; not disposed by the tool.</param>
/// <param name="Out">Results only: scripts parse it, so no progress or error ever goes here.</param>
/// <param name="Error">Errors and progress.</param>
/// <param name="GetEnvironmentVariable">Where <c>BACKBONE_URL</c> and <c>BACKBONE_TOKEN</c> come from.</param>
/// <param name="ErrorIsTerminal">A person watches stderr: the progress bar is redrawn in place instead of printed as lines.</param>
public sealed record CliContext(
    HttpMessageHandler Handler,
    TextWriter Out,
    TextWriter Error,
    Func<string, string?> GetEnvironmentVariable,
    bool ErrorIsTerminal)
{
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How often a running replay job is asked for its progress.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);
}
