using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Sagas;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Tests.Sagas;

[Trait("Tier", "Integration")]
public sealed class SagaConcurrencySpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private const int Increments = 200;

    private readonly CounterRows _rows = new(infrastructure.Database("Sagas"));

    [Fact]
    public async Task Concurrent_increments_of_one_instance_lose_no_update()
    {
        using var conflicts = new ConflictRetries(infrastructure.VirtualHost.Name);
        using var host = await CounterSagaHost.StartAsync(infrastructure);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        await bus.Publish(new CounterStarted(counterId, $"{counterId:N}@example.test"));
        await Eventually.HoldsAsync(
            async () => await _rows.CountAsync(counterId) == 1,
            TimeSpan.FromSeconds(30),
            () => "CounterStarted never created the row.");
        var versionBeforeIncrements = await _rows.VersionAsync(counterId);

        await Task.WhenAll(Enumerable.Range(0, Increments).Select(_ => bus.Publish(new CounterIncremented(counterId))));

        var increments = 0;
        await Eventually.HoldsAsync(
            async () => (increments = await _rows.IncrementsAsync(counterId)) == Increments,
            TimeSpan.FromSeconds(120),
            () => $"Increments stopped at {increments} of {Increments} ({conflicts.Count} conflicts retried).");
        Assert.Equal(versionBeforeIncrements + Increments, await _rows.VersionAsync(counterId));
        // Sixteen deliveries at once on one row: if none ever conflicted, the xmin check is not doing anything.
        Assert.True(conflicts.Count > 0, "No concurrency conflict was retried.");
        await host.StopAsync();
    }

    [Fact]
    public async Task An_event_retried_after_a_conflict_publishes_only_what_its_last_attempt_published()
    {
        const int increments = 60;
        using var conflicts = new ConflictRetries(infrastructure.VirtualHost.Name);
        using var host = await CounterSagaHost.StartAsync<RetryInsideInboxCounterDefinition>(infrastructure, durableCore: true);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        var noted = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var notes = bus.ConnectReceiveEndpoint($"counter-notes-{counterId:N}", endpoint => endpoint.Handler<CounterIncrementNoted>(context =>
        {
            if (context.Message.CounterId == counterId)
            {
                noted.Enqueue(context.Message.Increments);
            }

            return Task.CompletedTask;
        }));
        await notes.Ready;
        await bus.Publish(new CounterStarted(counterId, $"{counterId:N}@example.test"));
        await Eventually.HoldsAsync(async () => await _rows.CountAsync(counterId) == 1, TimeSpan.FromSeconds(30), () => "CounterStarted never created the row.");

        await Task.WhenAll(Enumerable.Range(0, increments).Select(_ => bus.Publish(new CounterIncremented(counterId))));

        await Eventually.HoldsAsync(
            async () => await _rows.IncrementsAsync(counterId) == increments && noted.Count >= increments,
            TimeSpan.FromSeconds(120),
            () => $"{noted.Count} notes of {increments} increments.");
        // What is still on its way: a note of a failed attempt would arrive as well.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.True(conflicts.Count > 0, "No concurrency conflict was retried.");
        Assert.Equal(Enumerable.Range(1, increments), noted.Order());
        await notes.StopAsync();
        await host.StopAsync();
    }

    [Fact]
    public async Task Concurrent_first_events_for_one_correlation_id_store_one_row()
    {
        using var host = await CounterSagaHost.StartAsync(infrastructure);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        var starts = new ConsumedMessages<CounterStarted>(started => started.CounterId == counterId);
        using var observer = bus.ConnectConsumeMessageObserver(starts);
        const int duplicates = 8;

        await Task.WhenAll(Enumerable.Range(0, duplicates)
            .Select(_ => bus.Publish(new CounterStarted(counterId, $"{counterId:N}@example.test"))));

        await Eventually.HoldsAsync(
            () => Task.FromResult(starts.Consumed == duplicates),
            TimeSpan.FromSeconds(60),
            () => $"Consumed {starts.Consumed} of {duplicates} starts, {starts.Faulted} faulted: {starts.LastFault}");
        Assert.Equal(1, await _rows.CountAsync(counterId));
        await host.StopAsync();
    }

    [Fact]
    public async Task Concurrent_first_events_correlated_by_email_store_one_row()
    {
        using var host = await CounterSagaHost.StartAsync(infrastructure);
        var bus = host.Services.GetRequiredService<IBus>();
        var email = $"{NewId.NextGuid():N}@example.test";
        var opens = new ConsumedMessages<CounterOpenedByEmail>(opened => opened.Email == email);
        using var observer = bus.ConnectConsumeMessageObserver(opens);
        const int duplicates = 8;

        await Task.WhenAll(Enumerable.Range(0, duplicates).Select(_ => bus.Publish(new CounterOpenedByEmail(email))));

        await Eventually.HoldsAsync(
            () => Task.FromResult(opens.Consumed == duplicates),
            TimeSpan.FromSeconds(60),
            () => $"Consumed {opens.Consumed} of {duplicates} opens, {opens.Faulted} faulted: {opens.LastFault}");
        Assert.Equal(1, await _rows.CountByEmailAsync(email));
        await host.StopAsync();
    }
}

/// <summary>As the signup saga composes it: the conflict retry inside the inbox, so every attempt shares one transaction.</summary>
public sealed class RetryInsideInboxCounterDefinition : SagaDefinition<CounterState>
{
    public RetryInsideInboxCounterDefinition() => Endpoint(endpoint =>
    {
        endpoint.PrefetchCount = CounterStateDefinition.Concurrency * 2;
        endpoint.ConcurrentMessageLimit = CounterStateDefinition.Concurrency;
    });

    protected override void ConfigureSaga(
        IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<CounterState> sagaConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
        endpointConfigurator.UseSagaConcurrencyRetry();
    }
}
