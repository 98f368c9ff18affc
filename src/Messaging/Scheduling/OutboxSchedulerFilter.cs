using MassTransit;
using MassTransit.Context;
using MassTransit.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Scheduling;

/// <summary>
/// Gives every consume the durable scheduler: saga Schedule/Unschedule, <c>ScheduleSend</c> and delayed redelivery
/// (<c>UseScheduledRedelivery</c>) all find it as the context's <see cref="MessageSchedulerContext"/>.
/// </summary>
internal sealed class OutboxSchedulerFilter<TDbContext>(IServiceProvider rootServices) : IFilter<ConsumeContext>
    where TDbContext : DbContext
{
    public void Probe(ProbeContext context) => context.CreateFilterScope("backbone-scheduler");

    public Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        context.GetOrAddPayload<MessageSchedulerContext>(() => new ConsumeMessageSchedulerContext(context, CreateScheduler));
        return next.Send(context);
    }

    private IMessageScheduler CreateScheduler(ConsumeContext context) =>
        new MessageScheduler(OutboxScheduleMessageProvider<TDbContext>.ForConsume(context, rootServices), context.GetPayload<IBusTopology>());
}
