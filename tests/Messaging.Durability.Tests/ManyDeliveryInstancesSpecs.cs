using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>
/// Kept beside the conformance suite because it forces what the suite's two instances rarely do: with the hand-off
/// closed on both, every group is claimed, and two delivery services compete for each one with SKIP LOCKED.
/// </summary>
public sealed class ManyDeliveryInstancesSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    private const int MessageCount = 2_000;

    [Fact]
    public async Task Two_delivery_services_claiming_every_group_send_each_message_exactly_once()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var first = await ProbeHosts.StartServiceAsync(infrastructure);
        using var second = await ProbeHosts.StartServiceAsync(infrastructure);
        first.Services.GetRequiredService<OutboxHandoff>().Close(typeof(ProbeDbContext));
        second.Services.GetRequiredService<OutboxHandoff>().Close(typeof(ProbeDbContext));

        // Both instances write and both deliver, as two replicas of one service would.
        await Task.WhenAll(WriteAsync(first, 0, MessageCount / 2), WriteAsync(second, MessageCount / 2, MessageCount));

        await Eventually.HoldsAsync(
            () => Task.FromResult(received.ByMessageId.Count == MessageCount),
            TimeSpan.FromMinutes(3),
            () => $"{received.ByMessageId.Count} of {MessageCount} messages reached the broker.");
        // An empty outbox cannot send anything more: only then is "once" final.
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromMinutes(3),
            () => "The outbox never emptied.");
        var duplicated = received.ByMessageId.Where(x => x.Value > 1).Select(x => x.Key).ToList();
        Assert.True(duplicated.Count == 0, $"{duplicated.Count} messages were sent more than once.");
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
