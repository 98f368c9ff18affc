using System.Globalization;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class DurableSchedulingSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    [Fact]
    public async Task A_message_scheduled_for_2_seconds_fires_after_the_scheduling_host_was_killed_and_restarted_and_a_cancelled_one_never_fires()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        var due = ProbeDbContext.IdFor(1);
        var cancelled = ProbeDbContext.IdFor(2);

        DateTime dueAt;
        await using (var scheduling = ProbeHosts.StartProbe(infrastructure, "schedule"))
        {
            await scheduling.WaitForOutputAsync("SCHEDULED", TimeSpan.FromSeconds(60));
            // SIGKILL right away: the schedule must survive a crash of the host that made it, not only a clean stop.
            await scheduling.KillAsync();
            var line = scheduling.Output.Split('\n').First(x => x.StartsWith("SCHEDULED ", StringComparison.Ordinal));
            dueAt = DateTime.Parse(line["SCHEDULED ".Length..].Trim(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        }

        Assert.True(DateTime.UtcNow < dueAt, "The scheduling host lived past the due time; the test would prove nothing.");
        Assert.Empty(received.ByMessageId);

        await using var restarted = ProbeHosts.StartProbe(infrastructure, "consume");
        await restarted.WaitForOutputAsync("READY", TimeSpan.FromSeconds(60));
        await Eventually.HoldsAsync(
            () => Task.FromResult(received.ByMessageId.ContainsKey(due)),
            TimeSpan.FromSeconds(30),
            () => $"The scheduled message never fired after the restart.\n{restarted.Logs}");
        Assert.True(received.FirstArrival[due] >= dueAt, "The scheduled message fired before its due time.");

        // Well past the due time: the cancelled one must still not have fired.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(received.ByMessageId.ContainsKey(cancelled), "A cancelled scheduled message fired.");
        Assert.Equal(1, received.ByMessageId[due]);
    }
}
