using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Sagas;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Tests.Sagas;

/// <summary>Saga messages behind the batched inbox: one transaction, run in turn, locking instances in one order.</summary>
[Trait("Tier", "Integration")]
public sealed class BatchedSagaInboxSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private readonly CounterRows _rows = new(infrastructure.Database("Sagas"));

    [Fact]
    public async Task Messages_for_one_instance_in_one_batch_see_each_others_writes()
    {
        const int increments = 24;
        using var batchSizes = new BatchSizes();
        using var conflicts = new ConflictRetries(infrastructure.VirtualHost.Name);
        var counterId = NewId.NextGuid();
        await StartCounterAsync<OneBatchAtATimeCounterDefinition>(counterId);

        // Queued while no host consumes, so they reach the inbox together.
        using (var host = await StopConsumingAndPublishAsync<OneBatchAtATimeCounterDefinition>(
            Enumerable.Range(0, increments).Select(_ => new CounterIncremented(counterId))))
        {
            await Eventually.HoldsAsync(async () => await _rows.IncrementsAsync(counterId) == increments, TimeSpan.FromSeconds(90),
                () => $"Increments at {_rows.IncrementsAsync(counterId).Result}, batches {string.Join(',', batchSizes.Values)}");
            await host.StopAsync();
        }

        Assert.Contains(batchSizes.Values, size => size > 1);
        // One batch at a time: had a later message in a batch not seen the earlier one's update, its xmin would conflict.
        Assert.Equal(0, conflicts.Count);
    }

    [Fact]
    public async Task Two_concurrent_batches_over_the_same_instances_in_opposite_order_do_not_deadlock()
    {
        using var batchSizes = new BatchSizes();
        var counters = Enumerable.Range(0, 8).Select(_ => NewId.NextGuid()).ToList();
        foreach (var counterId in counters)
        {
            await StartCounterAsync<OppositeOrderCounterDefinition>(counterId);
        }

        // Two batches of 8 in flight at once: the first takes the counters in one order, the second in the reverse.
        var increments = counters.Select(x => new CounterIncremented(x)).Concat(counters.AsEnumerable().Reverse().Select(x => new CounterIncremented(x)));
        using (var host = await StopConsumingAndPublishAsync<OppositeOrderCounterDefinition>(increments))
        {
            var faults = new ConsumedMessages<CounterIncremented>(x => counters.Contains(x.CounterId));
            using var observer = host.Services.GetRequiredService<IBus>().ConnectConsumeMessageObserver(faults);
            await Eventually.HoldsAsync(
                async () => (await Task.WhenAll(counters.Select(_rows.IncrementsAsync))).All(x => x == 2),
                TimeSpan.FromSeconds(90),
                () => $"Increments {string.Join(',', counters.Select(x => _rows.IncrementsAsync(x).Result))}; faults {faults.Faulted}: {faults.LastFault}");
            Assert.Equal(0, faults.Faulted);
            await host.StopAsync();
        }

        Assert.Contains(batchSizes.Values, size => size > 1);
    }

    private async Task StartCounterAsync<TDefinition>(Guid counterId)
        where TDefinition : class, ISagaDefinition<CounterState>
    {
        using var host = await CounterSagaHost.StartAsync<TDefinition>(infrastructure, durableCore: true);
        await host.Services.GetRequiredService<IBus>().Publish(new CounterStarted(counterId, $"{counterId:N}@example.test"));
        await Eventually.HoldsAsync(async () => await _rows.CountAsync(counterId) == 1, TimeSpan.FromSeconds(60), () => "CounterStarted never created the row.");
        await host.StopAsync();
    }

    /// <summary>Publishes while the saga's queue is bound but not consumed (from a bus of its own), then starts consuming.</summary>
    private async Task<IHost> StopConsumingAndPublishAsync<TDefinition>(IEnumerable<CounterIncremented> messages)
        where TDefinition : class, ISagaDefinition<CounterState>
    {
        var builder = Host.CreateApplicationBuilder();
        var settings = infrastructure.HostSettings();
        builder.Services.AddMassTransit(bus => bus.UsingRabbitMq((_, cfg) =>
            cfg.Host(settings["Backbone:RabbitMq:Host"], (ushort)infrastructure.Settings.RabbitPort, settings["Backbone:RabbitMq:VirtualHost"], host =>
            {
                host.Username(infrastructure.Settings.RabbitUsername);
                host.Password(infrastructure.Settings.RabbitPassword);
            })));
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        using (var publisher = builder.Build())
        {
            await publisher.StartAsync();
            var bus = publisher.Services.GetRequiredService<IBus>();
            foreach (var message in messages)
            {
                await bus.Publish(message);
            }

            await publisher.StopAsync();
        }

        return await CounterSagaHost.StartAsync<TDefinition>(infrastructure, durableCore: true);
    }

    private sealed class BatchSizes : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<int> _values = new();

        public BatchSizes()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MessagingMetrics.MeterName && instrument.Name == "backbone.inbox.batch_size")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<int>((_, size, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "consumer_type" && (string?)tag.Value == nameof(CounterState))
                    {
                        _values.Enqueue(size);
                    }
                }
            });
            _listener.Start();
        }

        public int[] Values => [.. _values];

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>One batch in flight: consecutive batches never overlap, so any xmin conflict would come from inside a batch.</summary>
public sealed class OneBatchAtATimeCounterDefinition : SagaDefinition<CounterState>
{
    public OneBatchAtATimeCounterDefinition() => Endpoint(endpoint =>
    {
        endpoint.PrefetchCount = 32;
        endpoint.ConcurrentMessageLimit = 16;
    });

    protected override void ConfigureSaga(
        IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<CounterState> sagaConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseSagaConcurrencyRetry();
        endpointConfigurator.UseDurableInbox(InboxBatching.Batched(maxBatchSize: 16, maxBatchesInFlight: 1));
    }
}

/// <summary>Batches of 8, two in flight: 16 queued increments become two concurrent batches.</summary>
public sealed class OppositeOrderCounterDefinition : SagaDefinition<CounterState>
{
    public OppositeOrderCounterDefinition() => Endpoint(endpoint =>
    {
        endpoint.PrefetchCount = 32;
        endpoint.ConcurrentMessageLimit = 16;
    });

    protected override void ConfigureSaga(
        IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<CounterState> sagaConfigurator, IRegistrationContext context)
    {
        // Batches over the same rows still conflict on xmin (the second waits for the first's commit, then finds a newer
        // row): that conflict fails only its message, and this retry runs it again.
        endpointConfigurator.UseSagaConcurrencyRetry();
        endpointConfigurator.UseDurableInbox(InboxBatching.Batched(maxBatchSize: 8, maxBatchesInFlight: 2));
    }
}
