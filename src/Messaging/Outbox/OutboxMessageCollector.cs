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
    private readonly List<OutboxMessage> _messages = [];
    private bool _sealed;

    public OutboxMessageCollector(IBus bus, IServiceProvider provider)
    {
        _provider = provider;
        PublishEndpoint = new PublishEndpoint(new OutboxPublishEndpointProvider(this, bus));
    }

    public IPublishEndpoint PublishEndpoint { get; }

    /// <summary>
    /// Ends publishing here and returns the messages in publish order. A publish that ends later (a delegate that
    /// started one without awaiting it) throws instead of adding a row nobody writes — lost silently, or a "collection
    /// was modified" in the middle of the insert.
    /// </summary>
    public List<OutboxMessage> Seal()
    {
        lock (_gate)
        {
            _sealed = true;
            return _messages;
        }
    }

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
            if (_sealed)
            {
                throw new InvalidOperationException("A publish ended after its outbox group was handed to the commit: await every Publish before the delegate returns.");
            }

            _messages.Add(message);
        }

        return Task.CompletedTask;
    }
}
