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

    public Uri AmqpUri => new($"{(Tls is null ? "amqp" : "amqps")}://{Host}:{Port}/{Uri.EscapeDataString(VirtualHost.TrimStart('/'))}");
}

/// <summary>The <c>Backbone</c> section: which transport every host of this process talks over.</summary>
public sealed record BackboneSettings(TransportKind Transport, RabbitMqSettings RabbitMq)
{
    public const string TransportKey = "Backbone:Transport";

    public bool IsEmbedded => Transport == TransportKind.InMemory;

    /// <summary>Reads and validates the section now, so a bad value stops the host before anything starts.</summary>
    public static BackboneSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var transport = settings.Enum<TransportKind>(TransportKey);
        var host = settings.String("Backbone:RabbitMq:Host", "127.0.0.1");
        var useTls = settings.Bool("Backbone:RabbitMq:UseTls", false);
        var rabbit = new RabbitMqSettings(
            host,
            // RabbitMQ's TLS listener is 5671 by convention: TLS spoken to the plain 5672 listener fails the handshake.
            settings.Int("Backbone:RabbitMq:Port", useTls ? 5671 : 5672, 1, 65535),
            settings.String("Backbone:RabbitMq:VirtualHost", "/"),
            settings.String("Backbone:RabbitMq:Username", "guest"),
            settings.String("Backbone:RabbitMq:Password", "guest"))
        {
            QuorumQueues = settings.Bool("Backbone:RabbitMq:QuorumQueues", false),
            Tls = RabbitMqTlsSettings.Load(settings, useTls, host),
        };
        return new BackboneSettings(transport, rabbit);
    }
}
