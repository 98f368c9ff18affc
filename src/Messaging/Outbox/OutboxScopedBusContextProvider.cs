using MassTransit;
using MassTransit.DependencyInjection;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Replaces MassTransit's scoped bus context. Inside a consumer, the scope's IPublishEndpoint/ISendEndpointProvider
/// must be the consume context's (which our inbox has pointed at the consumer outbox); handing out the bus outbox
/// there would let a consumer's messages skip the consumer outbox and lose their link to the inbox.
/// </summary>
internal sealed class OutboxScopedBusContextProvider<TDbContext> : IScopedBusContextProvider<IBus>
    where TDbContext : DbContext
{
    public OutboxScopedBusContextProvider(
        IBus bus,
        TDbContext db,
        Bind<IBus, IClientFactory> clientFactory,
        Bind<IBus, IScopedConsumeContextProvider> busConsumeContextProvider,
        IScopedConsumeContextProvider globalConsumeContextProvider,
        IServiceProvider provider)
    {
        if (busConsumeContextProvider.Value.HasContext)
        {
            Context = new ConsumeContextScopedBusContext(busConsumeContextProvider.Value.GetContext(), clientFactory.Value);
        }
        else if (globalConsumeContextProvider.HasContext)
        {
            Context = new ConsumeContextScopedBusContext(globalConsumeContextProvider.GetContext(), clientFactory.Value);
        }
        else
        {
            Context = new DbContextBusOutboxContext<TDbContext>(bus, db, clientFactory.Value, provider);
        }
    }

    public ScopedBusContext Context { get; }
}
