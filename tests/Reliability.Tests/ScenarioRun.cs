using Xunit.Abstractions;

namespace EventBackbone.Reliability.Tests;

/// <summary>
/// One fault scenario on any topology: the same load and poison as every other, the fault beside them, then the
/// drain and the exact accounting, whose row goes to the report with the moments of the fault.
/// </summary>
internal static partial class ScenarioRun
{
    public static async Task RunAsync(
        ReliabilityTopology topology, ITestOutputHelper output, string scenario, Func<CancellationToken, Task> fault,
        double poisonPerSecond = 1, bool hostsMustSurvive = false)
    {
        await topology.RestoreAsync();
        using var cancel = new CancellationTokenSource(ReliabilitySettings.LoadDuration + ReliabilitySettings.DrainTime + TimeSpan.FromMinutes(5));
        var load = new LoadGenerator(topology.NextApiAddress, topology.Token, scenario, ReliabilitySettings.Seed);
        await using var poison = topology.CreatePoisonInjector();
        topology.TakeFaultTimeline(DateTime.UtcNow);
        var loadStarted = DateTime.UtcNow;

        var loadRun = load.RunAsync(ReliabilitySettings.LoadDuration, ReliabilitySettings.Rate, cancel.Token);
        var poisonRun = InjectPoisonAsync(poison, poisonPerSecond, cancel.Token);
        var faultRun = fault(cancel.Token);
        await Task.WhenAll(loadRun, poisonRun, faultRun);
        // Hosts must ride out a broker node's or the database's failure by themselves: one that exited is restarted
        // by RestoreAsync below, which would hide exactly what the scenario is about.
        var exited = topology.Hosts.Where(h => h.Host.HasExited).Select(h => $"{h.Kind} (pid {h.Host.Pid}, exit {h.Host.ExitCode})").ToList();
        await topology.RestoreAsync();

        var accounting = await Accounting.AfterDrainAsync(scenario, topology, load, poison, ReliabilitySettings.DrainTime);
        var faults = topology.TakeFaultTimeline(loadStarted);
        ReliabilitySettings.Report($"{accounting.Row} <!-- {(faults.Length > 0 ? $"fault (s into the load): {faults}; " : "")}{accounting.Breakdown} -->");
        output.WriteLine($"{(faults.Length > 0 ? $"Fault (s into the load): {faults}\n" : "")}{accounting}");
        Assert.True(accounting.Accepted > 0, $"Nothing was accepted: the scenario tested nothing.\n{accounting}\n{Tail(topology.Problems())}");
        Assert.True(
            accounting.Clean,
            $"Seed {ReliabilitySettings.Seed}: the accounting of '{scenario}' is not clean (fault: {faults}).\n{accounting}\n{Mentions(topology.AllLogs(), accounting.ToString())}\n{Tail(topology.Problems())}");
        Assert.Equal(accounting.PoisonSent, accounting.DeadLettered);
        Assert.False(
            hostsMustSurvive && exited.Count > 0,
            $"Hosts exited during '{scenario}' instead of riding the fault out: {string.Join(", ", exited)}.\n{Tail(topology.Problems())}");
    }

    /// <summary>
    /// Every host's log lines that name an id the accounting names (a lost signup, a stuck message): the tail of the
    /// problems alone did not show what became of the signup that broker-restart lost in CI, whose lines scrolled away.
    /// </summary>
    public static string Mentions(string logs, string accounting)
    {
        var ids = Guids().Matches(accounting).Select(x => x.Value).Distinct(StringComparer.OrdinalIgnoreCase).Take(10).ToList();
        var lines = logs.Split('\n').Where(line => ids.Any(id => line.Contains(id, StringComparison.OrdinalIgnoreCase))).TakeLast(200);
        return ids.Count == 0 ? "" : $"----- log lines naming {string.Join(", ", ids)} -----\n{string.Join('\n', lines)}";
    }

    [System.Text.RegularExpressions.GeneratedRegex("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")]
    private static partial System.Text.RegularExpressions.Regex Guids();

    /// <summary>The end of every host's output: enough to see what went wrong without drowning the message.</summary>
    public static string Tail(string logs) => logs.Length <= 20_000 ? logs : logs[^20_000..];

    private static async Task InjectPoisonAsync(PoisonInjector poison, double perSecond, CancellationToken cancellationToken)
    {
        var count = (int)(ReliabilitySettings.LoadDuration.TotalSeconds * perSecond);
        var interval = TimeSpan.FromSeconds(1 / perSecond);
        for (var i = 0; i < count; i++)
        {
            await poison.InjectAsync(cancellationToken);
            await Task.Delay(interval, cancellationToken);
        }
    }
}
