using System.Collections.Concurrent;
using System.Text;
using EventBackbone.TestInfrastructure;
using RabbitMQ.Client;

namespace EventBackbone.Reliability.Tests;

/// <summary>
/// A message type that always fails: MassTransit envelopes of <c>WebhookReceived</c> whose event id is not a GUID,
/// put straight into a consumer's queue as a misbehaving publisher would. They can never be consumed, so every one must
/// end in the dead-letter store — not loop, not vanish, not hold up the real webhooks in the same queue.
/// <para>On a cluster, <paramref name="nodes"/> (<c>host:port</c>) are tried in turn when it (re)connects, so a node the
/// scenario killed or cut off does not hold the injection up.</para>
/// </summary>
public sealed class PoisonInjector(
    InfrastructureSettings broker, string virtualHost, ConcurrentBag<Guid> everInjected, IReadOnlyList<string>? nodes = null) : IAsyncDisposable
{
    /// <summary>A Workers queue that also carries the load's real webhooks.</summary>
    public const string Queue = "reporting-webhook-volume";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;
    private IChannel? _channel;

    public ConcurrentBag<Guid> Sent { get; } = [];

    /// <summary>Publishes one poison message with a publisher confirm, reconnecting until the broker has it.</summary>
    public async Task InjectAsync(CancellationToken cancellationToken)
    {
        var messageId = Guid.NewGuid();
        var body = Encoding.UTF8.GetBytes($$"""
            {"messageId":"{{messageId}}","conversationId":"{{Guid.NewGuid()}}","messageType":["urn:message:EventBackbone.Contracts.Webhooks:WebhookReceived"],
             "message":{"eventId":"poison-is-not-a-guid","source":"github","eventType":"poison","payload":"{}","receivedAt":"not a time"},
             "sentTime":"{{DateTime.UtcNow:O}}"}
            """);
        var properties = new BasicProperties
        {
            Persistent = true,
            MessageId = messageId.ToString(),
            ContentType = "application/vnd.masstransit+json",
        };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    var channel = await ChannelAsync(cancellationToken);
                    await channel.BasicPublishAsync(string.Empty, Queue, mandatory: true, properties, body, cancellationToken);
                    Sent.Add(messageId);
                    everInjected.Add(messageId);
                    return;
                }
                catch (Exception unavailable) when (unavailable is not OperationCanceledException && DateTime.UtcNow < deadline)
                {
                    // The broker is being restarted by the scenario: reconnect and publish again (same message id).
                    await ResetAsync();
                    await Task.Delay(500, cancellationToken);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ResetAsync();
        _gate.Dispose();
    }

    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true })
        {
            return _channel;
        }

        await ResetAsync();
        var factory = new ConnectionFactory
        {
            HostName = broker.RabbitHost,
            Port = broker.RabbitPort,
            VirtualHost = virtualHost,
            UserName = broker.RabbitUsername,
            Password = broker.RabbitPassword,
            AutomaticRecoveryEnabled = false,
            ClientProvidedName = "reliability-poison-injector",
        };
        _connection = nodes is { Count: > 0 }
            ? await factory.CreateConnectionAsync(
                nodes.Select(node => new AmqpTcpEndpoint(node.Split(':')[0], int.Parse(node.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture))),
                cancellationToken)
            : await factory.CreateConnectionAsync(cancellationToken);
        _channel = await _connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        return _channel;
    }

    private async Task ResetAsync()
    {
        try
        {
            if (_channel is not null)
            {
                await _channel.DisposeAsync();
            }

            if (_connection is not null)
            {
                await _connection.DisposeAsync();
            }
        }
        catch (Exception closing) when (closing is not OperationCanceledException)
        {
            // Already broken by the outage: nothing left to close cleanly.
        }

        (_channel, _connection) = (null, null);
    }
}
