using System.Reflection;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.DependencyInjection;
using MassTransit.Middleware;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Inbox;

/// <summary>Puts the inbox filter in front of every consumer and saga message pipe of one receive endpoint.</summary>
internal sealed class InboxPipeSpecificationObserver<TDbContext>(IReceiveEndpointConfigurator endpoint, IRegistrationContext context)
    : IConsumerConfigurationObserver, ISagaConfigurationObserver
    where TDbContext : DbContext
{
    private readonly Dictionary<Type, IEnumerable<EventCorrelation>> _stateMachines = [];

    public void ConsumerConfigured<TConsumer>(IConsumerConfigurator<TConsumer> configurator)
        where TConsumer : class
    {
    }

    public void ConsumerMessageConfigured<TConsumer, TMessage>(IConsumerMessageConfigurator<TConsumer, TMessage> configurator)
        where TConsumer : class
        where TMessage : class =>
        AddInbox<TConsumer, TMessage>(configurator as IConsumerMessageConfigurator<TMessage>
            ?? throw new ConfigurationException($"The inbox cannot be added to {typeof(TConsumer).Name}/{typeof(TMessage).Name}."));

    public void SagaConfigured<TSaga>(ISagaConfigurator<TSaga> configurator)
        where TSaga : class, ISaga
    {
    }

    public void StateMachineSagaConfigured<TInstance>(ISagaConfigurator<TInstance> configurator, SagaStateMachine<TInstance> stateMachine)
        where TInstance : class, ISaga, SagaStateMachineInstance =>
        _stateMachines[typeof(TInstance)] = stateMachine.Correlations;

    public void SagaMessageConfigured<TSaga, TMessage>(ISagaMessageConfigurator<TSaga, TMessage> configurator)
        where TSaga : class, ISaga
        where TMessage : class =>
        AddInbox<TSaga, TMessage>(configurator as ISagaMessageConfigurator<TMessage>
            ?? throw new ConfigurationException($"The inbox cannot be added to {typeof(TSaga).Name}/{typeof(TMessage).Name}."));

    private void AddInbox<T, TMessage>(IPipeConfigurator<ConsumeContext<TMessage>> configurator)
        where TMessage : class
    {
        var options = InboxConsumerOptions.For(endpoint.InputAddress.AbsolutePath, typeof(T), typeof(TMessage));
        // The endpoint's declaration (UseDurableInbox) is read when the first message arrives: by then the definition
        // has configured the endpoint, whichever order MassTransit configured the consumer and the endpoint in.
        var filter = new InboxConsumeFilter<TDbContext, TMessage>(
            new ConsumeScopeProvider(context), context, options, () => DurableInboxConfiguration.For(endpoint), () => InstanceIdOf<T, TMessage>());
        configurator.AddPipeSpecification(new FilterPipeSpecification<ConsumeContext<TMessage>>(filter));
    }

    /// <summary>
    /// The saga instance a message is for, as its state machine correlates it by id (<c>CorrelateById</c>). MassTransit
    /// applies that correlation after this filter, so the batch reads it here to lock saga rows in one order.
    /// </summary>
    private Func<ConsumeContext<TMessage>, Guid>? InstanceIdOf<T, TMessage>()
        where TMessage : class
    {
        if (!_stateMachines.TryGetValue(typeof(T), out var correlations))
        {
            return null;
        }

        var correlation = correlations.FirstOrDefault(x => x.DataType == typeof(TMessage));
        var filter = correlation?.GetType().GetProperty("MessageFilter")?.GetValue(correlation);
        return filter is CorrelationIdMessageFilter<TMessage>
            ? filter.GetType().GetField("_getCorrelationId", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(filter) as Func<ConsumeContext<TMessage>, Guid>
            : null;
    }
}
