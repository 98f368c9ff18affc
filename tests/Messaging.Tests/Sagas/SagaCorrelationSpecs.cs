using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Tests.Sagas;

[Trait("Tier", "Integration")]
public sealed class SagaCorrelationSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly CounterRows _rows = new(infrastructure.Database("Sagas"));

    [Fact]
    public async Task An_event_correlated_by_email_reaches_the_instance_with_that_email()
    {
        using var host = await CounterSagaHost.StartAsync(infrastructure);
        var bus = host.Services.GetRequiredService<IBus>();
        var counterId = NewId.NextGuid();
        var email = $"{counterId:N}@example.test";
        await bus.Publish(new CounterStarted(counterId, email));
        await Eventually.HoldsAsync(async () => await _rows.CountAsync(counterId) == 1, Patience, () => "The counter was never created.");

        await bus.Publish(new CounterLookedUpByEmail(email));

        await Eventually.HoldsAsync(
            async () => await _rows.LookupsAsync(counterId) == 1,
            Patience,
            () => "The lookup by email never reached the counter.");
        Assert.Equal(1, await _rows.CountAsync(counterId));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_saga_continues_after_a_host_restart_and_its_row_is_deleted_when_finalized()
    {
        var counterId = NewId.NextGuid();
        using (var first = await CounterSagaHost.StartAsync(infrastructure))
        {
            var bus = first.Services.GetRequiredService<IBus>();
            await bus.Publish(new CounterStarted(counterId, $"{counterId:N}@example.test"));
            await Eventually.HoldsAsync(async () => await _rows.CountAsync(counterId) == 1, Patience, () => "The counter was never created.");
            await bus.Publish(new CounterIncremented(counterId));
            await Eventually.HoldsAsync(
                async () => await _rows.IncrementsAsync(counterId) == 1,
                Patience,
                () => "The first host never incremented the counter.");
            await first.StopAsync();
        }

        using var second = await CounterSagaHost.StartAsync(infrastructure);
        var secondBus = second.Services.GetRequiredService<IBus>();
        await secondBus.Publish(new CounterIncremented(counterId));
        await Eventually.HoldsAsync(
            async () => await _rows.IncrementsAsync(counterId) == 2,
            Patience,
            () => "The second host did not continue from the stored state.");

        await secondBus.Publish(new CounterFinished(counterId));

        await Eventually.HoldsAsync(
            async () => await _rows.CountAsync(counterId) == 0,
            Patience,
            () => "The finalized counter's row was not deleted.");
        Assert.Equal(0, await _rows.CountAsync(counterId));
        await second.StopAsync();
    }
}
