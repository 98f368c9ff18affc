using System.Globalization;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using Xunit.Abstractions;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class DurableSchedulingSpecs(ProbeInfrastructure infrastructure, ITestOutputHelper output) : IClassFixture<ProbeInfrastructure>
{
    [Fact]
    public async Task A_message_scheduled_for_2_seconds_fires_after_the_scheduling_host_was_killed_and_restarted_and_a_cancelled_one_never_fires()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);

        // The spec proves something only if the scheduling host is dead before the message is due: alive past its due
        // time, that host may have sent it itself. How long scheduling, reporting and the kill take depends on the
        // machine's load, so the precondition is established, not assumed: an arrangement whose host outlived its due
        // time is set aside (its messages have ids of their own, never looked at again) and made again with twice the
        // delay. The first arrangement is the 2 s one; a loaded machine gets 4, 8, ... s.
        const int Arrangements = 6;
        var delay = 2;
        Guid due = default, cancelled = default;
        DateTime dueAt = default;
        var killedBeforeDue = false;
        for (var attempt = 0; attempt < Arrangements && !killedBeforeDue; attempt++, delay *= 2)
        {
            due = ProbeDbContext.IdFor((2 * attempt) + 1);
            cancelled = ProbeDbContext.IdFor((2 * attempt) + 2);
            await using var scheduling = ProbeHosts.StartProbe(
                infrastructure, "schedule", "--Probe:DelaySeconds", delay.ToString(CultureInfo.InvariantCulture), "--Probe:Attempt", attempt.ToString(CultureInfo.InvariantCulture));
            await scheduling.WaitForOutputAsync("SCHEDULED", TimeSpan.FromSeconds(60));
            // SIGKILL right away: the schedule must survive a crash of the host that made it, not only a clean stop.
            await scheduling.KillAsync();
            var line = scheduling.Output.Split('\n').First(x => x.StartsWith("SCHEDULED ", StringComparison.Ordinal));
            dueAt = DateTime.Parse(line["SCHEDULED ".Length..].Trim(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            // Read once, right after the kill: the time that passes from here on is not the host's.
            killedBeforeDue = DateTime.UtcNow < dueAt;
            output.WriteLine($"Arrangement {attempt + 1}: due in {delay} s; the scheduling host was {(killedBeforeDue ? "killed before" : "still alive at")} its due time.");
        }

        Assert.True(killedBeforeDue, $"{Arrangements} scheduling hosts in a row outlived their due time, the last one a {delay / 2} s delay.");
        Assert.False(received.ByMessageId.ContainsKey(due) || received.ByMessageId.ContainsKey(cancelled), "A scheduled message arrived while no host could send it.");

        await using var restarted = ProbeHosts.StartProbe(infrastructure, "consume");
        await restarted.WaitForOutputAsync("READY", TimeSpan.FromSeconds(60));
        await Eventually.HoldsAsync(
            () => Task.FromResult(received.ByMessageId.ContainsKey(due)),
            (dueAt - DateTime.UtcNow) + TimeSpan.FromSeconds(30),
            () => $"The scheduled message never fired after the restart.\n{restarted.Logs}");
        Assert.True(received.FirstArrival[due] >= dueAt, "The scheduled message fired before its due time.");

        // Well past the due time: the cancelled one must still not have fired.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(received.ByMessageId.ContainsKey(cancelled), "A cancelled scheduled message fired.");
        Assert.Equal(1, received.ByMessageId[due]);
    }
}
