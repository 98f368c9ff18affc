using System.Globalization;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Messaging.Transport;

/// <summary>One broker node a host may connect to: an entry <c>host</c> or <c>host:port</c> of <c>Backbone:RabbitMq:Nodes</c>.</summary>
public sealed record RabbitMqNode(string Host, int Port)
{
    public const string NodesKey = "Backbone:RabbitMq:Nodes";

    public override string ToString() => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The list <c><paramref name="section"/>:0…n</c> in key order; an entry without a port gets
    /// <paramref name="defaultPort"/> (as MassTransit's cluster configuration does). Blank entries are skipped, so an
    /// override can empty one. Empty when the section is absent.
    /// </summary>
    internal static IReadOnlyList<RabbitMqNode> LoadList(IConfiguration configuration, string section, int defaultPort)
    {
        var nodes = new List<(RabbitMqNode Node, string Key)>();
        foreach (var entry in configuration.GetSection(section).GetChildren())
        {
            if (entry.Value is null && entry.GetChildren().Any())
            {
                throw new InvalidSettingException(entry.Path, "is a section; each node is one value, host:port (e.g. 10.0.0.1:5672).");
            }

            var raw = entry.Value?.Trim() ?? "";
            if (raw.Length == 0)
            {
                continue;
            }

            var node = Parse(entry.Path, raw, defaultPort);
            if (nodes.FirstOrDefault(x => x.Node.Equals(node)) is ({ } same, { } sameKey))
            {
                throw new InvalidSettingException(entry.Path, $"'{raw}' is node {same} again, already listed as {sameKey}.");
            }

            nodes.Add((node, entry.Path));
        }

        return [.. nodes.Select(x => x.Node)];
    }

    private static RabbitMqNode Parse(string key, string raw, int defaultPort)
    {
        // MassTransit splits a node address at ':' (ClusterNode.Parse), so an IPv6 literal or a URI cannot be passed on.
        var parts = raw.Split(':');
        if (parts.Length > 2)
        {
            throw new InvalidSettingException(key, $"'{raw}' is not host or host:port (a URI or an IPv6 address cannot be a node; use a host name).");
        }

        var host = parts[0];
        if (Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4))
        {
            throw new InvalidSettingException(key, $"'{raw}' does not start with a host name or IPv4 address (host or host:port, e.g. 10.0.0.1:5672).");
        }

        if (parts.Length == 1)
        {
            return new RabbitMqNode(host, defaultPort);
        }

        return int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? new RabbitMqNode(host, port)
            : throw new InvalidSettingException(key, $"'{raw}' has no port from 1 to 65535 after the colon (host:port, e.g. 10.0.0.1:5672).");
    }
}
