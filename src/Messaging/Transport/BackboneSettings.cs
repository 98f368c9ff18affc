using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Messaging.Transport;

public sealed record RabbitMqSettings(string Host, int Port, string VirtualHost, string Username, string Password)
{
    /// <summary>
    /// <c>Backbone:RabbitMq:QuorumQueues</c>: declare every receive endpoint's queue as a quorum queue (replicated, for a
    /// broker cluster). Off by default: a single-node broker gains nothing, and a queue's type cannot change once
    /// declared — switching an existing deployment means new queues, not a restart.
    /// </summary>
    public bool QuorumQueues { get; init; }

    /// <summary>TLS to the broker, or null for plain AMQP (<c>Backbone:RabbitMq:UseTls</c>, off by default).</summary>
    public RabbitMqTlsSettings? Tls { get; init; }

    /// <summary>
    /// <c>Backbone:RabbitMq:Nodes:0…n</c>: the nodes of a broker cluster, or empty when the host talks to
    /// <see cref="Host"/>:<see cref="Port"/> alone.
    /// </summary>
    public IReadOnlyList<RabbitMqNode> ClusterNodes { get; init; } = [];

    public bool IsCluster => ClusterNodes.Count > 0;

    /// <summary>Every node a connection may go to, in the configured order: the cluster's, or Host:Port alone.</summary>
    public IReadOnlyList<RabbitMqNode> Nodes => IsCluster ? ClusterNodes : [new RabbitMqNode(Host, Port)];
}

/// <summary>The <c>Backbone</c> section: which transport every host of this process talks over.</summary>
public sealed record BackboneSettings(TransportKind Transport, RabbitMqSettings RabbitMq)
{
    public const string TransportKey = "Backbone:Transport";

    private const string HostKey = "Backbone:RabbitMq:Host";

    public bool IsEmbedded => Transport == TransportKind.InMemory;

    /// <summary>Reads and validates the section now, so a bad value stops the host before anything starts.</summary>
    public static BackboneSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var transport = settings.Enum<TransportKind>(TransportKey);
        var useTls = settings.Bool("Backbone:RabbitMq:UseTls", false);
        // RabbitMQ's TLS listener is 5671 by convention: TLS spoken to the plain 5672 listener fails the handshake.
        var port = settings.Int("Backbone:RabbitMq:Port", useTls ? 5671 : 5672, 1, 65535);
        var nodes = RabbitMqNode.LoadList(configuration, RabbitMqNode.NodesKey, port);
        if (nodes.Count > 0 && settings.Optional(HostKey) is { } ignoredHost)
        {
            // Which one did the operator mean? Connecting to the nodes would silently ignore Host, and the reverse
            // would ignore the cluster: a host that starts anyway talks to a broker nobody chose.
            throw new InvalidSettingException(
                HostKey,
                $"'{ignoredHost}' is set together with {RabbitMqNode.NodesKey}; a host connects to the listed nodes, so remove Host "
                + $"(or the node list to talk to one broker).");
        }

        // With a cluster, the first node names the bus (MassTransit's host address) and stands in wherever Host was used.
        var host = nodes.Count > 0 ? nodes[0].Host : settings.String(HostKey, "127.0.0.1");
        var rabbit = new RabbitMqSettings(
            host,
            port,
            settings.String("Backbone:RabbitMq:VirtualHost", "/"),
            settings.String("Backbone:RabbitMq:Username", "guest"),
            settings.String("Backbone:RabbitMq:Password", "guest"))
        {
            QuorumQueues = settings.Bool("Backbone:RabbitMq:QuorumQueues", false),
            ClusterNodes = nodes,
            // One certificate name for every node: MassTransit applies a single server name to all of them. Nodes on
            // different hosts therefore need it set (null here = no default to offer).
            Tls = RabbitMqTlsSettings.Load(settings, useTls, nodes.Select(x => x.Host).Distinct(StringComparer.OrdinalIgnoreCase).Count() > 1 ? null : host),
        };
        return new BackboneSettings(transport, rabbit);
    }
}
