using EventBackbone.Bench.Harness;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Bench.Contenders;

/// <summary>
/// MassTransit publish → consume over RabbitMQ with every setting at its default except the consumer-side settings all
/// contenders share (<see cref="ConsumerSideSettings"/>). "Non-durable"
/// means no outbox and no inbox: nothing ties the publish to a database transaction or deduplicates on the
/// consumer. (MassTransit's defaults already use durable queues, persistent messages and publisher confirms.)
/// </summary>
public sealed class MassTransitNonDurableContender : IContender
{
    private ServiceProvider? _services;
    private IBusControl? _bus;

    public string Name => "masstransit-nondurable";

    public async Task StartAsync(BenchEnvironment environment, IArrivalSink arrivals, CancellationToken cancellationToken)
    {
        var virtualHost = await environment.CreateVirtualHostAsync();
        var settings = environment.Settings;
        var services = new ServiceCollection();
        services.AddSingleton(arrivals);
        services.AddMassTransit(bus =>
        {
            // The consumer-side settings every contender shares: with MassTransit's own defaults (concurrency = its
            // default prefetch) the ratios would compare tuning instead of pipelines.
            bus.AddConsumer<ArrivalConsumer>(consumer => consumer.ConcurrentMessageLimit = ConsumerSideSettings.ConcurrentMessages);
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(settings.RabbitHost, (ushort)settings.RabbitPort, virtualHost.Name, host =>
                {
                    host.Username(settings.RabbitUsername);
                    host.Password(settings.RabbitPassword);
                });
                rabbit.PrefetchCount = ConsumerSideSettings.Prefetch;
                rabbit.ConfigureEndpoints(context);
            });
        });
        _services = services.BuildServiceProvider();
        _bus = _services.GetRequiredService<IBusControl>();

        // StartAsync returns once the receive endpoints are consuming, so the first round cannot publish into an
        // exchange that is not yet bound to the consumer's queue (those messages would be dropped, not queued).
        await _bus.StartAsync(cancellationToken);
    }

    public Task PublishAsync(BenchMessage message, CancellationToken cancellationToken) =>
        _bus!.Publish(message, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_bus is not null)
        {
            await _bus.StopAsync();
        }

        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
    }
}

/// <summary>Does nothing but report the arrival: the baseline measures the bus, not a handler.</summary>
internal sealed class ArrivalConsumer(IArrivalSink arrivals) : IConsumer<BenchMessage>
{
    public Task Consume(ConsumeContext<BenchMessage> context)
    {
        arrivals.Arrived(context.Message);
        return Task.CompletedTask;
    }
}
