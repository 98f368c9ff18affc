using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.DeadLetters.Capture;

/// <summary>
/// <c>Backbone:RabbitMq:ManagementUrl</c> (default <c>http://{Host}:15672</c>, <c>https://{Host}:15671</c> with
/// <c>Backbone:RabbitMq:UseTls</c>, whose CA also vouches for it): where the error and skipped queues are
/// found, also those that appear later; <c>Backbone:DeadLetters:DiscoveryInterval</c> (default 10 s): how often to look;
/// <c>Backbone:DeadLetters:ArchiveRetention</c> (default 30 days): how long archived items are kept;
/// <c>Backbone:DeadLetters:EditAndReplay</c> (default false): whether operators may change a message before replaying it.
/// </summary>
public sealed record DeadLetterSettings(RabbitMqSettings RabbitMq, Uri ManagementUrl, TimeSpan DiscoveryInterval, TimeSpan ArchiveRetention, bool EditAndReplay)
{
    private const string ManagementUrlKey = "Backbone:RabbitMq:ManagementUrl";

    public static DeadLetterSettings Load(IConfiguration configuration)
    {
        var backbone = BackboneSettings.Load(configuration);
        var settings = new SettingsReader(configuration);
        var managementUrl = settings.AbsoluteUri(ManagementUrlKey);
        // The management API gets the broker's password (HTTP Basic): with TLS to the broker, an explicit http URL (the
        // compose and Kubernetes files set one) would still send it in plain text to anyone on the path.
        if (managementUrl is not null && backbone.RabbitMq.Tls is not null && managementUrl.Scheme != Uri.UriSchemeHttps)
        {
            throw new InvalidSettingException(
                ManagementUrlKey,
                $"'{managementUrl}' is not https, but Backbone:RabbitMq:UseTls is true: the broker password would cross it in plain text; use https (the management TLS listener, 15671 by convention).");
        }

        return new DeadLetterSettings(
            backbone.RabbitMq,
            // With TLS to the broker the password is not sent in plain text to the management API either: its TLS
            // listener is 15671 by convention.
            managementUrl
                ?? new Uri(backbone.RabbitMq.Tls is null ? $"http://{backbone.RabbitMq.Host}:15672" : $"https://{backbone.RabbitMq.Host}:15671"),
            settings.Duration("Backbone:DeadLetters:DiscoveryInterval", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            settings.Duration("Backbone:DeadLetters:ArchiveRetention", TimeSpan.FromDays(30), TimeSpan.Zero, TimeSpan.FromDays(3650)),
            settings.Bool("Backbone:DeadLetters:EditAndReplay", false));
    }

    /// <summary>
    /// A connection of this service's own; recovery is the caller's (it re-declares what it consumes). With
    /// <c>Backbone:RabbitMq:Nodes</c>, RabbitMQ.Client tries the nodes (in its own shuffled order) until one accepts, so a
    /// reconnection after a node's death finds a survivor.
    /// </summary>
    public Task<RabbitMQ.Client.IConnection> ConnectAsync(string purpose, CancellationToken cancellationToken) =>
        new RabbitMQ.Client.ConnectionFactory
        {
            VirtualHost = RabbitMq.VirtualHost,
            UserName = RabbitMq.Username,
            Password = RabbitMq.Password,
            ClientProvidedName = $"eventbackbone-dead-letters-{purpose}",
            AutomaticRecoveryEnabled = false,
            // The same TLS as the hosts' buses: this service's connections carry the same credentials.
            Ssl = RabbitMq.Tls?.ToSslOption() ?? new RabbitMQ.Client.SslOption(),
        }.CreateConnectionAsync(
            // Each endpoint carries its own TLS options: the factory's apply only to its HostName.
            [.. RabbitMq.Nodes.Select(node => new RabbitMQ.Client.AmqpTcpEndpoint(node.Host, node.Port, RabbitMq.Tls?.ToSslOption() ?? new RabbitMQ.Client.SslOption()))],
            cancellationToken);
}
