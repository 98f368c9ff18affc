using MassTransit;
using MassTransit.Configuration;
using MassTransit.DependencyInjection;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Inbox;

/// <summary>Puts the inbox filter in front of every consumer and saga message pipe of one receive endpoint.</summary>
internal sealed class InboxPipeSpecificationObserver<TDbContext>(IReceiveEndpointConfigurator endpoint, IRegistrationContext context)
    : IConsumerConfigurationObserver, ISagaConfigurationObserver
    where TDbContext : DbContext
{
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
        where TInstance : class, ISaga, SagaStateMachineInstance
    {
    }

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
            new ConsumeScopeProvider(context), context, options, () => DurableInboxConfiguration.For(endpoint));
        configurator.AddPipeSpecification(new FilterPipeSpecification<ConsumeContext<TMessage>>(filter));
    }
}
