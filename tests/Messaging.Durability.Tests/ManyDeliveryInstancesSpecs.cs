using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class ManyDeliveryInstancesSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    private const int MessageCount = 2_000;

    /// <param name="sendFromMemory">
    /// True: each instance sends what it committed from memory, and claims only what is left. False: hand-off closed on
    /// both, so every group is claimed and the two instances compete for each one with SKIP LOCKED.
    /// </param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Two_delivery_services_on_one_outbox_send_every_message_exactly_once(bool sendFromMemory)
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var first = await ProbeHosts.StartServiceAsync(infrastructure);
        using var second = await ProbeHosts.StartServiceAsync(infrastructure);
        if (!sendFromMemory)
        {
            first.Services.GetRequiredService<OutboxHandoff>().Close(typeof(ProbeDbContext));
            second.Services.GetRequiredService<OutboxHandoff>().Close(typeof(ProbeDbContext));
        }

        // Both instances write and both deliver, as two replicas of one service would.
        await Task.WhenAll(WriteAsync(first, 0, MessageCount / 2), WriteAsync(second, MessageCount / 2, MessageCount));

        await Eventually.HoldsAsync(
            () => Task.FromResult(received.ByMessageId.Count == MessageCount),
            TimeSpan.FromSeconds(60),
            () => $"{received.ByMessageId.Count} of {MessageCount} messages reached the broker.");
        // Give a late duplicate every chance to show up before judging.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var duplicated = received.ByMessageId.Where(x => x.Value > 1).Select(x => x.Key).ToList();
        Assert.True(duplicated.Count == 0, $"{duplicated.Count} messages were sent more than once.");
        Assert.Equal(0, await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM outbox_messages"));
        await first.StopAsync();
        await second.StopAsync();
    }

    /// <summary>Ten messages per transaction, through the scope's bus outbox.</summary>
    private static async Task WriteAsync(IHost host, int from, int to)
    {
        for (var start = from; start < to; start += 10)
        {
            await using var scope = host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
            var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            for (var sequence = start; sequence < Math.Min(start + 10, to); sequence++)
            {
                var id = ProbeDbContext.IdFor(sequence);
                await publish.Publish(new ProbeMessage(id, sequence), context => context.MessageId = id);
            }

            await db.SaveChangesAsync();
        }
    }
}
