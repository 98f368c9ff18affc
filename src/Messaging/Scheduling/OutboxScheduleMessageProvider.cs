using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Outbox;
using MassTransit;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Messaging.Scheduling;

/// <summary>
/// Durable scheduling on PostgreSQL (there is no RabbitMQ delay plugin here): a scheduled message is a bus-outbox
/// group with a due time, delivered by the same delivery service when due; cancelling deletes the group. Inside a
/// consumer or saga both happen in the consume's transaction, so a saga's state and its timeouts commit together.
/// </summary>
internal sealed class OutboxScheduleMessageProvider<TDbContext> : IScheduleMessageProvider
    where TDbContext : DbContext
{
    private readonly ConsumeContext? _consumeContext;
    private readonly IServiceProvider _services;
    private readonly bool _ownScope;

    private OutboxScheduleMessageProvider(ConsumeContext? consumeContext, IServiceProvider services, bool ownScope)
    {
        _consumeContext = consumeContext;
        _services = services;
        _ownScope = ownScope;
    }

    /// <summary>From a consume pipeline: inside the inbox, the consume's transaction; outside it (delayed redelivery), a transaction of its own.</summary>
    public static OutboxScheduleMessageProvider<TDbContext> ForConsume(ConsumeContext context, IServiceProvider rootServices) =>
        new(context, rootServices, ownScope: context is not IInboxScope);

    /// <summary>From application code in a DI scope: rows join the scope's DbContext and commit with the caller's SaveChanges.</summary>
    public static OutboxScheduleMessageProvider<TDbContext> ForScope(IServiceProvider scopedServices) =>
        new(null, scopedServices, ownScope: false);

    public async Task<ScheduledMessage<T>> ScheduleSend<T>(Uri destinationAddress, DateTime scheduledTime, T message, IPipe<SendContext<T>> pipe, CancellationToken cancellationToken)
        where T : class
    {
        var schedule = new ScheduleSendPipe<T>(pipe, scheduledTime) { ScheduledMessageId = NewId.NextGuid() };
        if (_consumeContext is IInboxScope)
        {
            var endpoint = await _consumeContext.GetSendEndpoint(destinationAddress);
            await endpoint.Send(message, schedule, cancellationToken);
        }
        else if (_ownScope)
        {
            await using var scope = _services.CreateAsyncScope();
            var endpoint = await scope.ServiceProvider.GetRequiredService<ISendEndpointProvider>().GetSendEndpoint(destinationAddress);
            await endpoint.Send(message, schedule, cancellationToken);
            await scope.ServiceProvider.GetRequiredService<TDbContext>().SaveChangesAsync(cancellationToken);
        }
        else
        {
            var endpoint = await _services.GetRequiredService<ISendEndpointProvider>().GetSendEndpoint(destinationAddress);
            await endpoint.Send(message, schedule, cancellationToken);
        }

        return new ScheduledMessageHandle<T>(schedule.ScheduledMessageId!.Value, scheduledTime, destinationAddress, message);
    }

    public Task CancelScheduledSend(Guid tokenId, CancellationToken cancellationToken) => CancelAsync(tokenId, cancellationToken);

    public Task CancelScheduledSend(Uri destinationAddress, Guid tokenId, CancellationToken cancellationToken) => CancelAsync(tokenId, cancellationToken);

    private async Task CancelAsync(Guid tokenId, CancellationToken cancellationToken)
    {
        if (_consumeContext is IInboxScope inbox)
        {
            await inbox.CancelScheduledAsync(tokenId, cancellationToken);
        }
        else if (_ownScope)
        {
            await using var scope = _services.CreateAsyncScope();
            await OutboxScheduling.DeleteScheduledAsync(scope.ServiceProvider.GetRequiredService<TDbContext>(), tokenId, cancellationToken);
        }
        else
        {
            await OutboxScheduling.DeleteScheduledAsync(_services.GetRequiredService<TDbContext>(), tokenId, cancellationToken);
        }
    }
}
