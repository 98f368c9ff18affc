using MassTransit;
using MassTransit.Clients;
using MassTransit.DependencyInjection;
using MassTransit.Middleware;
using MassTransit.Middleware.Outbox;
using MassTransit.Transports;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// The bus as seen from a DI scope outside any consumer (an HTTP request, a background job): Send and Publish add
/// outbox rows to the scope's DbContext instead of reaching the broker, so they commit or roll back with the caller's
/// SaveChanges and transaction. The delivery service sends them after commit.
/// </summary>
internal sealed class DbContextBusOutboxContext<TDbContext> : ScopedBusContext, OutboxSendContext
    where TDbContext : DbContext
{
    private readonly IBus _bus;
    private readonly IClientFactory _clientFactory;
    private readonly TDbContext _db;
    private readonly IServiceProvider _provider;
    private readonly OutboxHandoff? _handoff;
    private readonly Lock _gate = new();
    private OutboxState? _group;
    private ISendEndpointProvider? _sendEndpointProvider;
    private IPublishEndpoint? _publishEndpoint;
    private IScopedClientFactory? _scopedClientFactory;

    public DbContextBusOutboxContext(IBus bus, TDbContext db, IClientFactory clientFactory, IServiceProvider provider)
    {
        _bus = bus;
        _db = db;
        _clientFactory = clientFactory;
        _provider = provider;
        _handoff = provider.GetService<OutboxHandoff>();
    }

    public ISendEndpointProvider SendEndpointProvider =>
        _sendEndpointProvider ??= new OutboxSendEndpointProvider(this, _bus);

    public IPublishEndpoint PublishEndpoint =>
        _publishEndpoint ??= new PublishEndpoint(new OutboxPublishEndpointProvider(this, _bus));

    public IScopedClientFactory ClientFactory =>
        _scopedClientFactory ??= new ScopedClientFactory(new ClientFactory(new ScopedClientFactoryContext(_clientFactory, _provider)), null);

    public object? GetService(Type serviceType) => _provider.GetService(serviceType);

    public Task AddSend<T>(SendContext<T> context)
        where T : class
    {
        var message = OutboxMessageFactory.Create(context);
        var due = OutboxMessageFactory.DueTime(context);
        lock (_gate)
        {
            if (due is not null)
            {
                // A scheduled message is a group of its own, so its due time and cancellation concern it alone.
                var scheduled = NewGroup(due, context.ScheduledMessageId);
                message.OutboxId = scheduled.OutboxId;
                _db.Add(scheduled);
            }
            else
            {
                // One group per transaction keeps the order of what one unit of work sent. A group that was already
                // saved (committed or not) is not reused: its rows may be delivered and deleted at any moment.
                if (_group is null || _db.Entry(_group).State != EntityState.Added)
                {
                    _group = NewGroup(null, null);
                    // Leased to this process's delivery service, which sends the group from memory after commit.
                    if (_handoff?.LeaseFor(typeof(TDbContext)) is { } lease)
                    {
                        _group.LockId = lease.LockId;
                        _group.LockedUntil = lease.LockedUntil;
                    }

                    _db.Add(_group);
                }

                message.OutboxId = _group.OutboxId;
            }

            _db.Add(message);
        }

        return Task.CompletedTask;
    }

    private static OutboxState NewGroup(DateTime? due, Guid? scheduleToken) => new()
    {
        OutboxId = NewId.NextGuid(),
        NotBefore = due,
        ScheduleTokenId = scheduleToken,
    };
}
