using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace EventBackbone.Reliability.Tests;

/// <summary>One sample of everything that must stay flat under a steady load.</summary>
public sealed record SoakSample(
    TimeSpan At,
    IReadOnlyDictionary<string, long> RssMegabytes,
    long DatabaseConnections,
    long BrokerConnections,
    long OutboxRows,
    long InboxRows,
    long QueuedMessages,
    string LargestQueue);

/// <summary>
/// A bounded run at a steady rate (40 s in CI, 30 min locally through <c>RELIABILITY_SOAK_SECONDS</c>): every host's
/// RSS, the database and broker connections, the outbox backlog and the queue depths must stay flat — a leak, a
/// connection not returned or a backlog that only grows shows as a second half above the first — and the inbox must be
/// trimmed to its duplicate-detection window.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class SoakSpecs(FaultTopology topology, ITestOutputHelper output)
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Under_a_steady_load_memory_connections_tables_and_queues_stay_flat()
    {
        await topology.RestoreAsync();
        var load = new LoadGenerator(() => topology[HostKind.Api].BaseAddress, topology.Token, "soak", ReliabilitySettings.Seed);
        await using var poison = topology.CreatePoisonInjector();
        using var stop = new CancellationTokenSource();
        var samples = new List<SoakSample>();
        var started = DateTime.UtcNow;
        var sampling = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                samples.Add(await SampleAsync(DateTime.UtcNow - started));
                await Task.Delay(SampleInterval, CancellationToken.None);
            }
        });

        await load.RunAsync(ReliabilitySettings.SoakDuration, ReliabilitySettings.Rate, CancellationToken.None);
        await stop.CancelAsync();
        await sampling;
        var accounting = await Accounting.AfterDrainAsync("soak", topology, load, poison, ReliabilitySettings.DrainTime);
        ReliabilitySettings.Report(accounting.Row);
        var table = Describe(samples);
        ReliabilitySettings.Report(table);
        output.WriteLine($"{accounting}\n{table}");
        Assert.True(accounting.Clean, $"The soak's accounting is not clean.\n{accounting}\n{FaultScenarioSpecs.Tail(topology.Problems())}");

        // The first quarter warms up (JIT, pools, caches); after it, the second half must not climb above the first.
        var steady = samples.Where(s => s.At >= ReliabilitySettings.SoakDuration / 4).ToList();
        Assert.True(steady.Count >= 6, $"Only {steady.Count} samples after warm-up: the soak measured too little.\n{table}");
        var (first, second) = (steady.Take(steady.Count / 2).ToList(), steady.Skip(steady.Count / 2).ToList());
        void AssertNotGrowing(string what, Func<SoakSample, long> figure, double factor, long slack)
        {
            var (before, after) = (first.Max(figure), second.Max(figure));
            Assert.True(after <= (before * factor) + slack, $"{what} climbed from {before} to {after} between the halves of the run.\n{table}");
        }

        foreach (var host in steady[0].RssMegabytes.Keys)
        {
            AssertNotGrowing($"{host}'s RSS (MB): a leak?", s => s.RssMegabytes.GetValueOrDefault(host), 1.3, 40);
        }

        // Pools grow lazily up to their bound (ServiceDatabase.DefaultMaxPoolSize) while a short run warms up.
        AssertNotGrowing("Database connections: something is not given back?", s => s.DatabaseConnections, 1.5, 4);
        AssertNotGrowing("Broker connections: something is not closed?", s => s.BrokerConnections, 1, 1);
        // A backlog may exist on a busy machine; one that grows with the run's length means the consumers fall behind.
        var slack = (long)(ReliabilitySettings.Rate * 10);
        AssertNotGrowing("The outbox backlog (rows)", s => s.OutboxRows, 1.5, slack);
        AssertNotGrowing($"The queued messages (largest queue: {steady[^1].LargestQueue})", s => s.QueuedMessages, 1.5, slack);

        // The inbox keeps each consumed message for the duplicate-detection window and no longer: once the window
        // and two cleanup rounds have passed, no row older than the window is left.
        var horizon = ReliabilityTopology.DuplicateDetectionWindow + (ReliabilityTopology.CleanupInterval * 3);
        await Task.Delay(ReliabilityTopology.CleanupInterval * 3);
        foreach (var service in new[] { "Ingestion", "Workers", "Sagas" })
        {
            var expired = await Accounting.ScalarAsync(
                topology.Database(service).ConnectionString,
                "SELECT count(*) FROM inbox_state WHERE received < now() - @horizon",
                ("horizon", horizon));
            Assert.True(expired == 0, $"{service}: {expired} inbox rows older than the window plus three cleanup rounds were never cleaned up.");
        }
    }

    private async Task<SoakSample> SampleAsync(TimeSpan at)
    {
        var rss = topology.Hosts.ToDictionary(h => h.Kind.ToString(), h => (h.Host.ResidentBytes() ?? 0) / (1024 * 1024));
        long outbox = 0, inbox = 0;
        foreach (var service in new[] { "Ingestion", "Workers", "Sagas" })
        {
            var connection = topology.Database(service).ConnectionString;
            outbox += await Accounting.ScalarAsync(connection, "SELECT (SELECT count(*) FROM outbox_messages) + (SELECT count(*) FROM outbox_state)");
            inbox += await Accounting.ScalarAsync(connection, "SELECT count(*) FROM inbox_state");
        }

        var databases = new[] { "Ingestion", "Workers", "Sagas", "DeadLetters" }
            .Select(s => new NpgsqlConnectionStringBuilder(topology.Database(s).ConnectionString).Database!)
            .ToArray();
        var connections = await Accounting.ScalarAsync(
            topology.Postgres.Settings.PostgresAdminConnectionString,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(@databases)",
            ("databases", databases));
        var queues = await topology.QueueDepthsAsync();
        var largest = queues.OrderByDescending(q => q.Messages).FirstOrDefault();
        return new SoakSample(
            at, rss, connections, await BrokerConnectionsAsync(), outbox, inbox, queues.Sum(q => (long)q.Messages), $"{largest.Queue} ({largest.Messages})");
    }

    private async Task<long> BrokerConnectionsAsync()
    {
        using var management = RabbitMqVirtualHost.ManagementClient(topology.Broker.Settings);
        var connections = await management.GetFromJsonAsync<JsonElement>(
            new Uri($"api/vhosts/{Uri.EscapeDataString(topology.VirtualHost.Name)}/connections", UriKind.Relative));
        return connections.GetArrayLength();
    }

    private static string Describe(List<SoakSample> samples)
    {
        var text = new StringBuilder();
        var hosts = samples.Count > 0 ? samples[0].RssMegabytes.Keys.ToList() : [];
        text.AppendLine($"| at s | {string.Join(" | ", hosts.Select(h => $"{h} RSS MB"))} | db connections | broker connections | outbox rows | inbox rows | queued | largest queue |");
        text.AppendLine($"|---:|{string.Concat(hosts.Select(_ => "---:|"))}---:|---:|---:|---:|---:|---|");
        var every = Math.Max(1, samples.Count / 15);
        foreach (var sample in samples.Where((_, i) => i % every == 0 || i == samples.Count - 1))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {sample.At.TotalSeconds:F0} | {string.Join(" | ", hosts.Select(h => sample.RssMegabytes[h]))} | "
                + $"{sample.DatabaseConnections} | {sample.BrokerConnections} | {sample.OutboxRows} | {sample.InboxRows} | {sample.QueuedMessages} | {sample.LargestQueue} |");
        }

        return text.ToString();
    }
}
