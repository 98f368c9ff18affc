using Xunit.Abstractions;

namespace EventBackbone.Reliability.Tests;

[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<FaultTopology>
{
    /// <summary>One collection: the scenarios share the topology and the expendable servers, so they run one at a time.</summary>
    public const string Name = "fault injection";
}

/// <summary>
/// Jepsen-style: a steady load of signed webhooks, duplicate deliveries, forged webhooks and signup commands, all with
/// unique ids, plus a trickle of poison messages, while one kind of fault is injected; then exact accounting of every
/// request (<see cref="Accounting"/>): lost = 0, duplicate effects = 0, nothing leaked, nothing left in flight.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class FaultScenarioSpecs(FaultTopology topology, ITestOutputHelper output)
{
    [Fact]
    public Task Killing_the_api_at_random_moments_loses_and_duplicates_nothing() => RunAsync("kill-api", KillRepeatedly(HostKind.Api));

    [Fact]
    public Task Killing_the_workers_at_random_moments_loses_and_duplicates_nothing() => RunAsync("kill-workers", KillRepeatedly(HostKind.Workers));

    [Fact]
    public Task Killing_the_sagas_at_random_moments_loses_and_duplicates_nothing() => RunAsync("kill-sagas", KillRepeatedly(HostKind.Sagas));

    [Fact]
    public Task Killing_the_dead_letter_service_at_random_moments_loses_no_poison_message() =>
        RunAsync("kill-dead-letters", KillRepeatedly(HostKind.DeadLetters), poisonPerSecond: 3);

    [Fact]
    public Task Stopping_and_starting_RabbitMQ_under_load_loses_and_duplicates_nothing() => RunAsync("broker-restart", async cancel =>
    {
        await Task.Delay(ReliabilitySettings.LoadDuration * 0.3, cancel);
        topology.NoteFault("stop_app");
        await topology.Broker.StopAppAsync();
        await Task.Delay(TimeSpan.FromSeconds(5), cancel);
        await topology.Broker.StartAppAsync();
    });

    [Fact]
    public Task Restarting_PostgreSQL_under_load_loses_and_duplicates_nothing() => RunAsync("database-restart", async cancel =>
    {
        await Task.Delay(ReliabilitySettings.LoadDuration * 0.3, cancel);
        topology.NoteFault("pg_ctlcluster stop");
        await topology.Postgres.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(4), cancel);
        await topology.Postgres.StartAsync();
    });

    [Fact]
    public Task A_provider_that_is_down_then_slow_then_failing_gets_each_notification_once() => RunAsync("provider-faults", async cancel =>
    {
        var phase = ReliabilitySettings.LoadDuration * 0.2;
        await Task.Delay(phase, cancel);
        await topology.SetProviderAsync("down");
        await Task.Delay(phase, cancel);
        // Slower than the provider client's 2 s attempt timeout: the call times out although the provider may still
        // deliver — the Idempotency-Key must keep the retry from sending it twice.
        await topology.SetProviderAsync("slow", delayMs: 2500);
        await Task.Delay(phase, cancel);
        await topology.SetProviderAsync("flaky");
        await Task.Delay(phase, cancel);
        await topology.SetProviderAsync("ok");
    });

    [Fact]
    public Task A_poison_message_type_ends_in_the_dead_letter_store_and_holds_up_nothing() =>
        RunAsync("poison", _ => Task.CompletedTask, poisonPerSecond: 10);

    private Func<CancellationToken, Task> KillRepeatedly(HostKind kind) => async cancel =>
    {
        // Two kills at seeded random moments between 15 % and 75 % of the load (more in the long mode).
        var random = new Random(ReliabilitySettings.Seed + (int)kind);
        var kills = Math.Max(2, (int)(ReliabilitySettings.LoadDuration.TotalSeconds / 10));
        var started = DateTime.UtcNow;
        var moments = Enumerable.Range(0, kills)
            .Select(_ => ReliabilitySettings.LoadDuration * (0.15 + (random.NextDouble() * 0.6)))
            .Order();
        foreach (var moment in moments)
        {
            var wait = moment - (DateTime.UtcNow - started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancel);
            }

            topology.NoteFault($"SIGKILL {kind}");
            await topology.KillAndRestartAsync(kind);
        }
    };

    private Task RunAsync(string scenario, Func<CancellationToken, Task> fault, double poisonPerSecond = 1) =>
        ScenarioRun.RunAsync(topology, output, scenario, fault, poisonPerSecond);

    internal static string Tail(string logs) => ScenarioRun.Tail(logs);
}
