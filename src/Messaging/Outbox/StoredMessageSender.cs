using MassTransit;
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
            // The serialized body is sent as stored; the pipe restores message id, correlation, conversation and headers.
            await endpoint.Send(new SerializedMessageBody(), new OutboxMessageSendPipe(message, destination), cancellationToken);
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
}
