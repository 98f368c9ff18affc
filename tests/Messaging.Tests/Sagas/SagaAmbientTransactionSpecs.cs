using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Tests.Sagas;

/// <summary>The saga inside a transaction someone else owns on the same scoped DbContext (the inbox/outbox's).</summary>
[Trait("Tier", "Integration")]
public sealed class SagaAmbientTransactionSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly CounterRows _rows = new(infrastructure.Database("Sagas"));

    [Fact]
    public async Task The_saga_saves_in_the_owners_transaction_and_never_commits_it()
    {
        using var host = await CounterSagaHost.StartAsync<AmbientTransactionCounterDefinition>(infrastructure);
        var bus = host.Services.GetRequiredService<IBus>();
        var rolledBackId = NewId.NextGuid();
        var committedId = NewId.NextGuid();
        var starts = new ConsumedMessages<CounterStarted>(started => started.CounterId == rolledBackId || started.CounterId == committedId);
        using var observer = bus.ConnectConsumeMessageObserver(starts);

        await bus.Publish(new CounterStarted(rolledBackId, $"{rolledBackId:N}{AmbientTransactionFilter<CounterStarted>.RolledBackDomain}"));
        await bus.Publish(new CounterStarted(committedId, $"{committedId:N}@example.test"));

        await Eventually.HoldsAsync(
            () => Task.FromResult(starts.Consumed == 2),
            Patience,
            () => $"Consumed {starts.Consumed} of 2 starts, {starts.Faulted} faulted: {starts.LastFault}");
        Assert.Equal(0, await _rows.CountAsync(rolledBackId));
        Assert.Equal(1, await _rows.CountAsync(committedId));
        await host.StopAsync();
    }

    [Fact]
    public async Task Concurrent_increments_inside_the_owners_transaction_lose_no_update()
    {
        const int increments = 50;
        using var host = await CounterSagaHost.StartAsync<AmbientTransactionCounterDefinition>(infrastructure);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        await bus.Publish(new CounterStarted(counterId, $"{counterId:N}@example.test"));
        await Eventually.HoldsAsync(async () => await _rows.CountAsync(counterId) == 1, Patience, () => "The counter was never created.");

        await Task.WhenAll(Enumerable.Range(0, increments).Select(_ => bus.Publish(new CounterIncremented(counterId))));

        var stored = 0;
        await Eventually.HoldsAsync(
            async () => (stored = await _rows.IncrementsAsync(counterId)) == increments,
            Patience,
            () => $"Increments stopped at {stored} of {increments}.");
        await host.StopAsync();
    }
}
