using EventBackbone.Bench.Harness;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace EventBackbone.Bench.Contenders;

/// <summary>
/// The broker's physical limit here: RabbitMQ.Client alone, persistent messages to a durable queue, publisher
/// confirms pipelined on one channel, one consumer with manual acks. No serializer, no database.
/// </summary>
public sealed class RawRabbitMqContender : IContender
{
    private const string Queue = "bench-raw";

    private IConnection? _publisherConnection;
    private IConnection? _consumerConnection;
    private IChannel? _publisher;
    private IChannel? _consumer;

    public string Name => "raw-rabbitmq";

    public async Task StartAsync(BenchEnvironment environment, IArrivalSink arrivals, CancellationToken cancellationToken)
    {
        var virtualHost = await environment.CreateVirtualHostAsync();

        // Publisher and consumer on separate connections: when the broker applies flow control to a publishing
        // connection it also slows that connection's acks, which would throttle the consumer for the publisher's sake.
        _publisherConnection = await RabbitConnections.OpenAsync(environment.Settings, virtualHost.Name, "raw publisher", cancellationToken);
        _consumerConnection = await RabbitConnections.OpenAsync(environment.Settings, virtualHost.Name, "raw consumer", cancellationToken);

        _publisher = await _publisherConnection.CreateChannelAsync(
            new CreateChannelOptions(
                publisherConfirmationsEnabled: true,
                publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: null),
            cancellationToken);
        await _publisher.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);

        _consumer = await _consumerConnection.CreateChannelAsync(
            new CreateChannelOptions(
                publisherConfirmationsEnabled: false,
                publisherConfirmationTrackingEnabled: false,
                consumerDispatchConcurrency: ConsumerSideSettings.ConcurrentMessages),
            cancellationToken);
        await _consumer.BasicQosAsync(prefetchSize: 0, prefetchCount: ConsumerSideSettings.Prefetch, global: false, cancellationToken);
        var consumer = new AsyncEventingBasicConsumer(_consumer);
        var channel = _consumer;
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            arrivals.Arrived(BenchMessage.Decode(delivery.Body.Span));
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, delivery.CancellationToken);
        };
        await _consumer.BasicConsumeAsync(Queue, autoAck: false, consumer, cancellationToken);
    }

    public async Task PublishAsync(BenchMessage message, CancellationToken cancellationToken)
    {
        var properties = new BasicProperties
        {
            Persistent = true,
            MessageId = message.MessageId.ToString(),
        };

        // With confirmation tracking on, this completes when the broker confirmed the message (written to disk,
        // since the message is persistent and the queue durable); a nack or a return throws PublishException.
        // mandatory: an unroutable message is returned as an error instead of being dropped unnoticed.
        await _publisher!.BasicPublishAsync(string.Empty, Queue, mandatory: true, properties, message.Encode(), cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in new[] { _consumer, _publisher })
        {
            if (channel is not null)
            {
                await channel.CloseAsync();
                channel.Dispose();
            }
        }

        foreach (var connection in new[] { _consumerConnection, _publisherConnection })
        {
            if (connection is not null)
            {
                await connection.CloseAsync();
                connection.Dispose();
            }
        }
    }
}
