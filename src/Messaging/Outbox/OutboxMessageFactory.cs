using MassTransit;
using MassTransit.Context;
using MassTransit.Serialization;

namespace EventBackbone.Messaging.Outbox;

internal static class OutboxMessageFactory
{
    /// <summary>
    /// Serializes a send exactly as the transport would have sent it: body, message id, correlation, conversation,
    /// addresses and every header (trace context included), so nothing is lost across the outbox hop.
    /// </summary>
    public static OutboxMessage Create<T>(SendContext<T> context)
        where T : class
    {
        var messageId = context.MessageId
            ?? throw new MessageException(typeof(T), "A send through the outbox needs a MessageId.");
        var now = DateTime.UtcNow;
        var message = new OutboxMessage
        {
            MessageId = messageId,
            ConversationId = context.ConversationId,
            CorrelationId = context.CorrelationId,
            InitiatorId = context.InitiatorId,
            RequestId = context.RequestId,
            SourceAddress = context.SourceAddress,
            DestinationAddress = context.DestinationAddress,
            ResponseAddress = context.ResponseAddress,
            FaultAddress = context.FaultAddress,
            SentTime = context.SentTime ?? now,
            ContentType = context.ContentType?.ToString() ?? context.Serialization.DefaultContentType.ToString(),
            MessageType = string.Join(";", context.SupportedMessageTypes),
            Body = context.Serializer.GetMessageBody(context).GetString(),
            Headers = SystemTextJsonMessageSerializer.Instance.SerializeDictionary(context.Headers.GetAll()),
        };
        if (context.TimeToLive.HasValue)
        {
            message.ExpirationTime = now + context.TimeToLive.Value;
        }

        if (context is TransportSendContext<T> transportContext)
        {
            var properties = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
            transportContext.WritePropertiesTo(properties);
            // The due time lives in outbox_state.not_before. Left in the properties, the delay would be restored at
            // delivery and RabbitMQ would route the message to the delayed-exchange plugin we do not have: the send
            // hung until its timeout and the scheduled message never arrived.
            properties.Remove("Delay");
            message.Properties = SystemTextJsonMessageSerializer.Instance.SerializeDictionary(properties);
        }

        return message;
    }

    /// <summary>The due time of a delayed or scheduled send; null for "now".</summary>
    public static DateTime? DueTime(SendContext context) =>
        context.Delay is { } delay && delay > TimeSpan.Zero ? DateTime.UtcNow + delay : null;
}
