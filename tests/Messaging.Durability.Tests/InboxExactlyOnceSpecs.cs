using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class InboxExactlyOnceSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    private const int MessageCount = 1_000;
    private const int DeliveriesEach = 3;

    [Fact]
    public async Task A_message_delivered_three_times_some_concurrently_has_its_effect_once()
    {
        await RunAsync(killConsumerMidRun: false);
    }

    [Fact]
    public async Task A_message_delivered_three_times_has_its_effect_once_when_the_consumer_is_SIGKILLed_mid_run()
    {
        await RunAsync(killConsumerMidRun: true);
    }

    private async Task RunAsync(bool killConsumerMidRun)
    {
        await ResetAsync();
        var consumer = ProbeHosts.StartProbe(infrastructure, "consume");
        try
        {
            await consumer.WaitForOutputAsync("READY", TimeSpan.FromSeconds(60));
            using var publisher = await ProbeHosts.StartReceiverAsync(infrastructure, new ReceivedMessages(), $"unused-{Guid.NewGuid():N}");
            var bus = publisher.Services.GetRequiredService<IBus>();

            var publishing = PublishAllAsync(bus);
            if (killConsumerMidRun)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(500, 1500)));
                await consumer.KillAsync();
                await consumer.DisposeAsync();
                consumer = ProbeHosts.StartProbe(infrastructure, "consume");
                await consumer.WaitForOutputAsync("READY", TimeSpan.FromSeconds(60));
            }

            await publishing;
            var probe = consumer;
            await Eventually.HoldsAsync(
                async () => await ReceiveCountAsync() >= MessageCount * DeliveriesEach,
                TimeSpan.FromSeconds(120),
                () => $"Not every delivery reached the inbox.\n{probe.Logs}");
            // Let anything still in flight land before judging.
            await Task.Delay(TimeSpan.FromSeconds(1));

            Assert.Equal(MessageCount, await infrastructure.Database("Probe").ScalarAsync<long>("SELECT value FROM counters WHERE name = 'effects'"));
            Assert.Equal(MessageCount, await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM inbox_state"));
        }
        finally
        {
            await consumer.DisposeAsync();
        }
    }

    /// <summary>Each message three times with the same MessageId: two copies at once, then a third later.</summary>
    private static async Task PublishAllAsync(IBus bus)
    {
        var ids = Enumerable.Range(0, MessageCount).Select(ProbeDbContext.IdFor).ToList();
        foreach (var chunk in ids.Chunk(100))
        {
            await Task.WhenAll(chunk.SelectMany(id => new[] { Publish(bus, id), Publish(bus, id) }));
        }

        foreach (var chunk in ids.Chunk(100))
        {
            await Task.WhenAll(chunk.Select(id => Publish(bus, id)));
        }
    }

    private static Task Publish(IBus bus, Guid id) =>
        bus.Publish(new ProbeMessage(id, 0), context => context.MessageId = id);

    private async Task<long> ReceiveCountAsync()
    {
        try
        {
            return await infrastructure.Database("Probe").ScalarAsync<long>("SELECT coalesce(sum(receive_count), 0)::bigint FROM inbox_state");
        }
        catch (PostgresException)
        {
            return 0;
        }
    }

    /// <summary>Both facts share the fixture's database: start each from an empty inbox and counter.</summary>
    private async Task ResetAsync()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);
        await host.StopAsync();
        await using var connection = new NpgsqlConnection(infrastructure.Database("Probe").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("TRUNCATE inbox_state, counters, outbox_messages, outbox_state", connection);
        await command.ExecuteNonQueryAsync();
    }
}
