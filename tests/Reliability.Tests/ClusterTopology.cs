using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Reliability.Tests;

/// <summary>
/// Two instances of every host on the three-node RabbitMQ cluster (<c>Backbone:RabbitMq:Nodes</c>, quorum queues, a
/// vhost of its own) and the PostgreSQL primary + synchronous standby (multi-host connection strings with
/// <c>Target Session Attributes=primary</c>; the scratch databases are made on the primary and replicated), both of
/// <c>bash scripts/infra.sh cluster up</c>. Every scenario of its collection ends with the cluster whole again:
/// partitions healed, every node running and every quorum queue member online, a primary with a synchronous standby.
/// </summary>
public sealed class ClusterTopology() : ReliabilityTopology(instancesPerHost: 2)
{
    /// <summary>A node's restart, a rejoin after a partition, a pg_rewind: each may take minutes on a loaded CI machine.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    private ExclusiveInfrastructure? _clusterTurn;

    public RabbitMqCluster Cluster { get; private set; } = null!;

    protected override string DatabasePrefix => "cluster";

    public override PoisonInjector CreatePoisonInjector() =>
        new(Cluster.AsInfrastructure(InfrastructureSettings.FromEnvironment()), VirtualHost.Name, InjectedPoison, Cluster.Nodes);

    public override async Task<List<(string Queue, int Messages)>> QueueDepthsAsync() => Depths(await Cluster.QueuesAsync(VirtualHost.Name));

    /// <summary>
    /// The node that leads the busiest quorum queues of the vhost: the most messages published to the queues it leads
    /// (the management API's <c>message_stats.publish</c>, plus what they hold now), ties broken by the count of queues.
    /// </summary>
    public async Task<(string Node, string Why)> BusiestLeaderAsync()
    {
        var queues = await Cluster.QueuesAsync(VirtualHost.Name);
        var leaders = queues
            .Where(q => q.TryGetProperty("type", out var type) && type.GetString() == "quorum")
            .Select(q => (
                Leader: (q.TryGetProperty("leader", out var leader) ? leader : q.GetProperty("node")).GetString()!,
                Name: q.GetProperty("name").GetString()!,
                Load: Number(q, "messages") + (q.TryGetProperty("message_stats", out var stats) ? Number(stats, "publish") : 0)))
            .GroupBy(q => q.Leader)
            .Select(g => (Node: g.Key, Load: g.Sum(q => q.Load), Queues: g.ToList()))
            .OrderByDescending(g => g.Load).ThenByDescending(g => g.Queues.Count)
            .ToList();
        Assert.True(leaders.Count > 0, $"The vhost {VirtualHost.Name} has no quorum queue: the hosts did not declare them as such.");
        var busiest = leaders[0];
        return (busiest.Node, $"leads {busiest.Queues.Count} quorum queues with {busiest.Load} messages published, "
            + $"busiest {string.Join(", ", busiest.Queues.OrderByDescending(q => q.Load).Take(3).Select(q => $"{q.Name} ({q.Load})"))}");
    }

    /// <summary>Stops one node's Erlang VM in order (<c>rabbitmqctl stop</c>): a planned restart, as an upgrade does it.</summary>
    public static Task StopNodeAsync(string nodeName) => RabbitMqCluster.RunAsync("rabbitmqctl", "-n", nodeName, "stop");

    /// <summary>
    /// Until every node reports the other two running, and every quorum queue of the vhost has all three members online:
    /// a node that is back but whose replicas are still catching up is not "back" for the next fault.
    /// </summary>
    public async Task WaitUntilWholeAsync()
    {
        var why = "";
        await Eventually.HoldsAsync(
            async () =>
            {
                try
                {
                    foreach (var (node, index) in Cluster.NodeNames.Select((n, i) => (n, i)))
                    {
                        var running = await Cluster.RunningNodesAsync(index);
                        if (running.Count != Cluster.NodeNames.Count)
                        {
                            why = $"{node} sees running: {string.Join(", ", running)}";
                            return false;
                        }
                    }

                    foreach (var queue in await Cluster.QueuesAsync(VirtualHost.Name))
                    {
                        if (queue.TryGetProperty("type", out var type) && type.GetString() == "quorum"
                            && (!queue.TryGetProperty("online", out var online) || online.GetArrayLength() != Cluster.NodeNames.Count))
                        {
                            why = $"quorum queue {queue.GetProperty("name").GetString()} has members online: {(queue.TryGetProperty("online", out var o) ? o.ToString() : "?")}";
                            return false;
                        }
                    }

                    return true;
                }
                catch (Exception unreachable) when (unreachable is InfrastructureUnavailableException or HttpRequestException or TaskCanceledException)
                {
                    why = unreachable.Message;
                    return false;
                }
            },
            Patience,
            () => $"The RabbitMQ cluster is not whole again after {Patience.TotalMinutes} min: {why}");
    }

    protected override async Task<InfrastructureSettings> PrepareInfrastructureAsync()
    {
        // Fails (never skips) naming `bash scripts/infra.sh cluster up` when a node or the database pair is not there.
        Cluster = await RabbitMqCluster.FromEnvironmentAsync();
        await PostgresFailoverPair.PrimaryAsync();
        _clusterTurn = await RabbitMqCluster.AcquireAsync();
        await RestoreInfrastructureAsync();
        return PostgresFailoverPair.AsInfrastructure(Cluster.AsInfrastructure(InfrastructureSettings.FromEnvironment()));
    }

    protected override void AddInfrastructureSettings(Dictionary<string, string> settings)
    {
        for (var i = 0; i < Cluster.Nodes.Count; i++)
        {
            settings[$"Backbone:RabbitMq:Nodes:{i}"] = Cluster.Nodes[i];
        }

        settings["Backbone:RabbitMq:QuorumQueues"] = "true";
        settings["Backbone:RabbitMq:Username"] = Cluster.Username;
        settings["Backbone:RabbitMq:Password"] = Cluster.Password;
        settings["Backbone:RabbitMq:ManagementUrl"] = Cluster.ManagementUrls[0].ToString();
    }

    /// <summary>
    /// Heals every partition, then — when a node is down or paused, or the database pair lost its standby — runs
    /// <c>cluster up</c> (starts the nodes that are down, brings a former primary back as the standby with pg_rewind and
    /// makes it synchronous), and waits until the cluster is whole. <c>cluster up</c> is idempotent but takes ~20 s,
    /// so a healthy cluster is not put through it.
    /// </summary>
    protected override async Task RestoreInfrastructureAsync()
    {
        await RabbitMqCluster.ScriptAsync("cluster", "heal");
        if (!await RabbitMqHealthyAsync() || !await PostgresFailoverPair.HasStandbyAsync())
        {
            NoteFault("restoring the cluster: infra.sh cluster up");
            await RabbitMqCluster.ScriptAsync("cluster", "up");
        }

        if (VirtualHost is not null)
        {
            await WaitUntilWholeAsync();
        }
    }

    protected override async Task ReleaseInfrastructureAsync()
    {
        try
        {
            if (Cluster is not null)
            {
                await RestoreInfrastructureAsync();
            }
        }
        finally
        {
            Cluster?.Dispose();
            _clusterTurn?.Dispose();
        }
    }

    private async Task<bool> RabbitMqHealthyAsync()
    {
        try
        {
            for (var i = 0; i < Cluster.NodeNames.Count; i++)
            {
                if ((await Cluster.RunningNodesAsync(i)).Count != Cluster.NodeNames.Count)
                {
                    return false;
                }
            }

            return true;
        }
        catch (Exception unreachable) when (unreachable is InfrastructureUnavailableException or HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static long Number(JsonElement json, string property) =>
        json.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;
}
