using RabbitMQ.Client;

namespace EventBackbone.TestInfrastructure;

public static class RabbitMqQueues
{
    /// <summary>
    /// The broker's own count (a passive declare), not the management API's figures that lag by seconds; -1 while the
    /// queue does not exist (MassTransit declares an error queue at the first fault).
    /// </summary>
    public static async Task<long> DepthAsync(IConnection broker, string queue)
    {
        // A channel of its own: a passive declare of a missing queue closes the channel it ran on.
        await using var channel = await broker.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException missing) when (missing.ShutdownReason?.ReplyCode == 404)
        {
            return -1;
        }
    }
}
