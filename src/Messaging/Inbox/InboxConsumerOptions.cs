using System.Security.Cryptography;
using System.Text;

namespace EventBackbone.Messaging.Inbox;

/// <summary>Identifies one consumer (or saga) of one message type on one endpoint: the inbox key is (MessageId, ConsumerId).</summary>
internal sealed record InboxConsumerOptions(Guid ConsumerId, string ConsumerType)
{
    /// <summary>
    /// Stable across restarts and instances (derived from names, not random), so a redelivery after a crash or to
    /// another instance finds the inbox row of the first delivery.
    /// </summary>
    public static InboxConsumerOptions For(string endpointName, Type consumerType, Type messageType)
    {
        var key = $"{endpointName}|{consumerType.FullName}|{messageType.FullName}";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        return new InboxConsumerOptions(new Guid(hash.AsSpan(0, 16)), consumerType.Name);
    }
}
