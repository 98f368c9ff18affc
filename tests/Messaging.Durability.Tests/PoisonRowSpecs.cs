using EventBackbone.Messaging.Durability.Tests.Conformance;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>
/// What happens to the poison row itself; that it delays nobody is the conformance suite's
/// <see cref="DurableCoreConformance.One_poison_row_delays_nobody"/>, on every write path.
/// </summary>
public sealed class PoisonRowSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    [Fact]
    public async Task An_undeliverable_row_is_parked_with_its_error_after_the_last_attempt()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: new Dictionary<string, string>
        {
            ["Backbone:Messaging:MaxDeliveryAttempts"] = "3",
            ["Backbone:Messaging:PollInterval"] = "00:00:00.200",
        });

        var poison = await DurableCoreConformance.AddPoisonRowAsync(host);

        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Probe").ScalarAsync<DateTime?>(
                "SELECT parked_at FROM outbox_state WHERE outbox_id = @id", ("id", poison)) is not null,
            TimeSpan.FromMinutes(2),
            () => "The poison row was never parked.");
        Assert.Equal(3, await infrastructure.Database("Probe").ScalarAsync<int>("SELECT attempts FROM outbox_state WHERE outbox_id = @id", ("id", poison)));
        Assert.False(string.IsNullOrEmpty(await infrastructure.Database("Probe").ScalarAsync<string>(
            "SELECT last_error FROM outbox_state WHERE outbox_id = @id", ("id", poison))));
        await host.StopAsync();
    }
}
