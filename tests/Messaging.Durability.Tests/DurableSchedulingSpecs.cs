using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class DurableSchedulingSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    private string OutboxDump() =>
        infrastructure.Database("Probe").ScalarAsync<string>(
            "SELECT coalesce(string_agg(s.outbox_id || ' due ' || s.not_before || ' attempts ' || s.attempts || ' error ' || coalesce(s.last_error, '-') || ' to ' || coalesce(m.destination_address, '-'), '; '), 'empty') FROM outbox_state s LEFT JOIN outbox_messages m USING (outbox_id)")
            .GetAwaiter().GetResult() ?? "empty";

    private static readonly Uri Destination = new("queue:probe-recording");

    [Fact]
    public async Task A_message_scheduled_for_2_seconds_fires_after_the_scheduling_host_restarted_and_a_cancelled_one_never_fires()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        var due = ProbeDbContext.IdFor(1);
        var cancelled = ProbeDbContext.IdFor(2);

        DateTime scheduledAt;
        using (var scheduling = await ProbeHosts.StartServiceAsync(infrastructure))
        {
            scheduledAt = DateTime.UtcNow;
            await using var scope = scheduling.Services.CreateAsyncScope();
            var scheduler = scope.ServiceProvider.GetRequiredService<IMessageScheduler>();
            await scheduler.ScheduleSend(Destination, scheduledAt.AddSeconds(2), new ProbeMessage(due, 1), Pipe.Execute<SendContext>(x => x.MessageId = due));
            var toCancel = await scheduler.ScheduleSend(Destination, scheduledAt.AddSeconds(2), new ProbeMessage(cancelled, 2), Pipe.Execute<SendContext>(x => x.MessageId = cancelled));
            await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SaveChangesAsync();
            await scheduler.CancelScheduledSend(Destination, toCancel.TokenId);
            // Stopped well before the due time: nothing of this host is left to fire the timeout.
            await scheduling.StopAsync();
        }

        Assert.True(DateTime.UtcNow - scheduledAt < TimeSpan.FromSeconds(2), "The first host ran past the due time; the test proves nothing.");
        Assert.Empty(received.ByMessageId);

        using var restarted = await ProbeHosts.StartServiceAsync(infrastructure);
        await Eventually.HoldsAsync(
            () => Task.FromResult(received.ByMessageId.ContainsKey(due)),
            TimeSpan.FromSeconds(30),
            () => $"The scheduled message never fired after the restart. Outbox: {OutboxDump()}");
        Assert.True(received.FirstArrival[due] >= scheduledAt.AddSeconds(2), "The scheduled message fired before its due time.");

        // Well past the due time: the cancelled one must still not have fired.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(received.ByMessageId.ContainsKey(cancelled), "A cancelled scheduled message fired.");
        Assert.Equal(1, received.ByMessageId[due]);
        await restarted.StopAsync();
    }
}
