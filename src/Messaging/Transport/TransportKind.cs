namespace EventBackbone.Messaging.Transport;

public enum TransportKind
{
    /// <summary>MassTransit's in-memory transport: one process, nothing durable (embedded mode, fast tests).</summary>
    InMemory,

    /// <summary>RabbitMQ: durable queues, any number of processes (distributed mode).</summary>
    RabbitMq,
}
