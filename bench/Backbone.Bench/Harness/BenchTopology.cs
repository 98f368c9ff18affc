using System.Globalization;
using EventBackbone.TestInfrastructure;
using Npgsql;

namespace EventBackbone.Bench.Harness;

/// <summary>
/// Where a durable EventBackbone contender runs under <c>--topology</c>: which broker (one node with classic queues, or
/// the three-node cluster of <c>scripts/infra.sh cluster</c> with quorum queues) and which PostgreSQL (the shared
/// single server, or the cluster's primary whose commits wait for its synchronous standby). Several topologies in one
/// run are measured round by round side by side, so their ratio is free of the machine's mood of the hour.
/// </summary>
/// <param name="Servers">The broker whose management API creates the vhost, and the PostgreSQL that holds the scratch database.</param>
/// <param name="BrokerNodes"><c>host:port</c> of each cluster node (<c>Backbone:RabbitMq:Nodes</c>); empty for one node.</param>
/// <param name="BrokerAmqpPorts">The nodes whose <c>beam.smp</c> CPU is summed into the broker's figure.</param>
/// <param name="PostgresServers">One admin connection string per PostgreSQL server whose CPU is summed (primary and standby).</param>
public sealed record BenchTopology(
    string Name,
    string Description,
    InfrastructureSettings Servers,
    IReadOnlyList<string> BrokerNodes,
    bool QuorumQueues,
    IReadOnlyList<int> BrokerAmqpPorts,
    IReadOnlyList<string> PostgresServers)
{
    public const string Single = "single";

    public const string Cluster = "cluster";

    public const string ClusterSync = "cluster-sync";

    public static readonly IReadOnlyList<string> Names = [Single, Cluster, ClusterSync];

    /// <summary>
    /// The topology's settings: the single node from the usual variables (<c>scripts/infra.sh env</c>), the cluster
    /// from those <c>scripts/infra.sh cluster env</c> prints, with that script's values as defaults.
    /// </summary>
    public static BenchTopology Resolve(string name, InfrastructureSettings single)
    {
        if (name == Single)
        {
            return new BenchTopology(
                name,
                $"one RabbitMQ node {single.RabbitHost}:{single.RabbitPort}, classic queues; PostgreSQL {PostgresHosts(single.PostgresAdminConnectionString)}",
                single,
                [],
                false,
                [single.RabbitPort],
                [single.PostgresAdminConnectionString]);
        }

        var nodes = EnvironmentList("Backbone__RabbitMq__Nodes__") is { Count: > 0 } listed ? listed : DefaultClusterNodes;
        var (firstHost, firstPort) = HostAndPort(nodes[0]);
        var broker = single with
        {
            RabbitHost = firstHost,
            RabbitPort = firstPort,
            RabbitUsername = Env("Backbone__Cluster__RabbitMq__Username", "backbone"),
            RabbitPassword = Env("Backbone__Cluster__RabbitMq__Password", "backbone"),
            RabbitManagementUrl = new Uri(Env("Backbone__Cluster__RabbitMq__ManagementUrls__0", "http://127.0.0.1:15681")),
        };
        var ports = nodes.Select(node => HostAndPort(node).Port).ToList();
        if (name == Cluster)
        {
            return new BenchTopology(
                name,
                $"RabbitMQ cluster {string.Join(", ", nodes)}, quorum queues; PostgreSQL {PostgresHosts(single.PostgresAdminConnectionString)} (as single)",
                broker,
                nodes,
                true,
                ports,
                [single.PostgresAdminConnectionString]);
        }

        if (name == ClusterSync)
        {
            var pair = Env("Backbone__Cluster__Postgres__AdminConnectionString", DefaultFailoverAdmin);
            return new BenchTopology(
                name,
                $"RabbitMQ cluster {string.Join(", ", nodes)}, quorum queues; PostgreSQL primary + synchronous standby {PostgresHosts(pair)}",
                broker with { PostgresAdminConnectionString = pair },
                nodes,
                true,
                ports,
                EachServer(pair));
        }

        throw new ArgumentException($"Unknown topology '{name}'; known: {string.Join(", ", Names)}.");
    }

    /// <summary>What <c>scripts/infra.sh cluster env</c> prints: three nodes on one machine.</summary>
    private static readonly IReadOnlyList<string> DefaultClusterNodes = ["127.0.0.1:5681", "127.0.0.1:5682", "127.0.0.1:5683"];

    private const string DefaultFailoverAdmin =
        "Host=127.0.0.1:5441,127.0.0.1:5442;Target Session Attributes=primary;Username=backbone;Password=backbone;Database=postgres";

    /// <summary>
    /// One connection string per host of a multi-host one, each reaching that server whatever its role: the meter asks
    /// every one for the postmaster behind its backend, the standby's included (it replays every commit's WAL).
    /// </summary>
    private static List<string> EachServer(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return [.. (builder.Host ?? "127.0.0.1").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(host =>
            {
                var (name, port) = host.Contains(':', StringComparison.Ordinal) ? HostAndPort(host) : (host, builder.Port);
                return new NpgsqlConnectionStringBuilder(connectionString)
                {
                    Host = name,
                    Port = port,
                    TargetSessionAttributes = "any",
                }.ConnectionString;
            })];
    }

    private static string PostgresHosts(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return builder.Host is { } host && host.Contains(',', StringComparison.Ordinal) ? host : $"{builder.Host}:{builder.Port}";
    }

    private static (string Host, int Port) HostAndPort(string node)
    {
        var parts = node.Split(':');
        return parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            ? (parts[0], port)
            : throw new ArgumentException($"'{node}' is not host:port.");
    }

    private static List<string> EnvironmentList(string prefix)
    {
        var values = new List<string>();
        for (var i = 0; Environment.GetEnvironmentVariable(prefix + i.ToString(CultureInfo.InvariantCulture)) is { Length: > 0 } value; i++)
        {
            values.Add(value);
        }

        return values;
    }

    private static string Env(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;
}
