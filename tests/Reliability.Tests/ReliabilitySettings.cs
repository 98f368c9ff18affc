using System.Globalization;

namespace EventBackbone.Reliability.Tests;

/// <summary>
/// Short mode (the default, what CI runs) or the long local mode, from the environment:
/// <c>RELIABILITY_LOAD_SECONDS</c> (load per fault scenario, default 12), <c>RELIABILITY_RATE</c> (requests per second,
/// default 20), <c>RELIABILITY_SOAK_SECONDS</c> (default 40), <c>RELIABILITY_SEED</c> (default 9: the same run
/// again), <c>RELIABILITY_REPORT</c> (a file every accounting table is appended to).
/// </summary>
public static class ReliabilitySettings
{
    public static TimeSpan LoadDuration { get; } = TimeSpan.FromSeconds(Number("RELIABILITY_LOAD_SECONDS", 12));

    public static double Rate { get; } = Number("RELIABILITY_RATE", 20);

    public static TimeSpan SoakDuration { get; } = TimeSpan.FromSeconds(Number("RELIABILITY_SOAK_SECONDS", 40));

    public static int Seed { get; } = (int)Number("RELIABILITY_SEED", 9);

    /// <summary>
    /// Long enough for the slowest legitimate path: a notification whose provider was down waits for its third
    /// redelivery (1 + 5 + 20 s), and a signup for two verification timeouts.
    /// </summary>
    public static TimeSpan DrainTime { get; } = TimeSpan.FromSeconds(Number("RELIABILITY_DRAIN_SECONDS", 120));

    public static void Report(string text)
    {
        var line = text + Environment.NewLine;
        File.AppendAllText(Path.Combine(AppContext.BaseDirectory, "reliability-report.md"), line);
        if (Environment.GetEnvironmentVariable("RELIABILITY_REPORT") is { Length: > 0 } path)
        {
            File.AppendAllText(path, line);
        }
    }

    private static double Number(string name, double fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } text ? double.Parse(text, CultureInfo.InvariantCulture) : fallback;
}
