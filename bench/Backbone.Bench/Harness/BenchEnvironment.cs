using EventBackbone.TestInfrastructure;

namespace EventBackbone.Bench.Harness;

/// <summary>
/// Where the servers are (the same environment variables as the integration tests), plus the throwaway vhosts and
/// databases a contender creates: each is dropped when the run ends, even when it fails.
/// </summary>
public sealed class BenchEnvironment : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _scratch = [];
    private readonly Lock _gate = new();

    /// <summary>
    /// Appended to every contender's connection string. The contenders of a run stay connected together and each one's
    /// pools would keep their peak connections open for Npgsql's default 300 s, i.e. through the next contenders'
    /// phases: with four database pools that reached 91 of PostgreSQL's 100 connections (shared with whatever tests run
    /// meanwhile) and a five-contender run failed with 53300 "remaining connection slots are reserved". At 128 in flight
    /// every database pool fills up to its bound, and with 15 s of idle lifetime the previous contender's full pools
    /// still stood beside the next one's (a smoke run failed with 53300 again): idle for 5 s, sampled every second, a
    /// connection is closed, so a run holds about one contender's connections at a time.
    /// </summary>
    public const string PoolIdleLifetime = ";Connection Idle Lifetime=5;Connection Pruning Interval=1";

    public InfrastructureSettings Settings { get; } = InfrastructureSettings.FromEnvironment();

    /// <summary>
    /// A vhost of its own, so the contender's queues never meet another contender's or a concurrently running
    /// test's, and leftovers of a crashed run cannot be consumed by the next one.
    /// </summary>
    public async Task<RabbitMqVirtualHost> CreateVirtualHostAsync(InfrastructureSettings? servers = null)
    {
        // Another broker than the run's (a --topology cluster): a cluster's vhost is created once, for every node.
        var virtualHost = await RabbitMqVirtualHost.CreateAsync(servers ?? Settings);
        Track(virtualHost);
        return virtualHost;
    }

    public async Task<ScratchDatabase> CreateDatabaseAsync(string purpose, InfrastructureSettings? servers = null)
    {
        var database = await ScratchDatabase.CreateAsync(servers ?? Settings, purpose);
        Track(database);
        return database;
    }

    public async ValueTask DisposeAsync()
    {
        IAsyncDisposable[] scratch;
        lock (_gate)
        {
            scratch = [.. _scratch];
            _scratch.Clear();
        }

        foreach (var item in scratch.Reverse())
        {
            await item.DisposeAsync();
        }
    }

    private void Track(IAsyncDisposable item)
    {
        lock (_gate)
        {
            _scratch.Add(item);
        }
    }
}
