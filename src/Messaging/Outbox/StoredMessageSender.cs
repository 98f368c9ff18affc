using System.Net.Mime;
using MassTransit;
using MassTransit.Context;
using MassTransit.Logging;
using MassTransit.Middleware;
using MassTransit.Serialization;

namespace EventBackbone.Messaging.Outbox;

/// <summary>Sends one stored outbox message exactly as it was captured; shared by the bus and consumer outboxes.</summary>
internal static class StoredMessageSender
{
    public static async Task SendAsync(ISendEndpointProvider endpoints, OutboxMessage message, CancellationToken cancellationToken)
    {
        var destination = message.DestinationAddress
            ?? throw new InvalidOperationException($"Outbox message {message.MessageId} has no destination address.");
        message.Deserialize(SystemTextJsonMessageSerializer.Instance);
        var endpoint = await endpoints.GetSendEndpoint(destination);
        // Continues the trace stored with the message (MT-Activity-Id), so one trace spans the request or consume
        // that committed the row, this delivery and every consumer after it.
        var activity = LogContext.Current?.StartOutboxDeliverActivity(message);
        try
        {
            await endpoint.Send(new SerializedMessageBody(), new StoredMessageSendPipe(message), cancellationToken);
        }
        catch (Exception failure)
        {
            activity?.AddExceptionEvent(failure);
            throw;
        }
        finally
        {
            activity?.Stop();
        }
    }

    /// <summary>
    /// Restores what the send context carried when the message was captured — ids, addresses, headers, transport
    /// properties — and sends the stored body bytes as they are. MassTransit's own outbox pipe parses the stored
    /// envelope and serializes it again on every send; on the webhook edge that was a tenth of the API's CPU
    /// (Webhooks.Bench profile). The body keeps the envelope exactly as it was captured (its embedded headers are the
    /// publisher's, not refreshed with this delivery's send span); the receiving side takes its trace parent from the
    /// transport headers, which are written from the restored headers as before (OutboxEnvelopeSpecs, TracingSpecs).
    /// </summary>
    private sealed class StoredMessageSendPipe(OutboxMessage message) : IPipe<SendContext>
    {
        public Task Send(SendContext context)
        {
            MessageContext stored = message;
            context.MessageId = message.MessageId;
            context.RequestId = message.RequestId;
            context.ConversationId = message.ConversationId;
            context.CorrelationId = message.CorrelationId;
            context.InitiatorId = message.InitiatorId;
            context.SourceAddress = message.SourceAddress;
            context.ResponseAddress = message.ResponseAddress;
            context.FaultAddress = message.FaultAddress;
            context.SupportedMessageTypes = message.MessageType.Split(';');
            if (message.ExpirationTime is { } expires)
            {
                context.TimeToLive = expires.ToUniversalTime() - DateTime.UtcNow;
            }

            foreach (var header in stored.Headers.GetAll())
            {
                context.Headers.Set(header.Key, header.Value);
            }

            if (((OutboxMessageContext)message).Properties is { Count: > 0 } properties && context is TransportSendContext transport)
            {
                transport.ReadPropertiesFrom(properties);
            }

            var contentType = new ContentType(message.ContentType);
            context.ContentType = contentType;
            context.Serializer = new StoredBody(contentType, message.Body);
            return Task.CompletedTask;
        }

        public void Probe(ProbeContext context)
        {
        }
    }

    /// <summary>"Serializes" any message to the stored body.</summary>
    private sealed class StoredBody(ContentType contentType, string body) : IMessageSerializer
    {
        public ContentType ContentType => contentType;

        public MessageBody GetMessageBody<T>(SendContext<T> context)
            where T : class => new StringMessageBody(body);
    }
}
