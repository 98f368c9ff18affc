namespace EventBackbone.Cli.Tests;

public sealed record CliResult(int ExitCode, string Out, string Error);

/// <summary>A settable clock, so the throttling of progress lines is tested without waiting.</summary>
public sealed class TestClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 11, 28, 9, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Runs the tool in-process the way <c>Program</c> does, with a stub API, captured output and a fake environment.</summary>
public sealed class CliRun : IDisposable
{
    public StubApi Api { get; } = new();

    public Dictionary<string, string> Environment { get; } = new() { ["BACKBONE_URL"] = "http://api.test:5083" };

    public TestClock Clock { get; } = new();

    public bool ErrorIsTerminal { get; set; }

    public async Task<CliResult> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext(Api, output, error, name => Environment.GetValueOrDefault(name), ErrorIsTerminal)
        {
            Clock = Clock,
            PollInterval = TimeSpan.Zero,
        };
        var exitCode = await BackboneCli.RunAsync(args, context);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    public void Dispose() => Api.Dispose();
}
