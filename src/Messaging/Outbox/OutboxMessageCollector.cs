using MassTransit;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using MassTransit.Transports;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Publishes through MassTransit's own send pipeline (topology, headers, trace context, serializer) and keeps the
/// result as outbox rows instead of sending it: the same rows the EF Core bus outbox writes, without EF Core.
/// </summary>
internal sealed class OutboxMessageCollector : OutboxSendContext
{
    private readonly IServiceProvider _provider;
    private readonly Lock _gate = new();

    public OutboxMessageCollector(IBus bus, IServiceProvider provider)
    {
        _provider = provider;
        PublishEndpoint = new PublishEndpoint(new OutboxPublishEndpointProvider(this, bus));
    }

    public IPublishEndpoint PublishEndpoint { get; }

    /// <summary>In publish order.</summary>
    public List<OutboxMessage> Messages { get; } = [];

    public object? GetService(Type serviceType) => _provider.GetService(serviceType);

    public Task AddSend<T>(SendContext<T> context)
        where T : class
    {
        if (OutboxMessageFactory.DueTime(context) is not null)
        {
            // Without a group of its own carrying the due time, the message would go out with the others at once.
            throw new NotSupportedException("A delayed publish needs IDurablePublisher.SchedulePublishAsync (a group of its own with the due time).");
        }

        var message = OutboxMessageFactory.Create(context);
        lock (_gate)
        {
            Messages.Add(message);
        }

        return Task.CompletedTask;
    }
}
