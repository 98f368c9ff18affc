using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class OutboxCrashSafetySpecs(ProbeInfrastructure infrastructure, ITestOutputHelper output) : IClassFixture<ProbeInfrastructure>
{
    private const int MessageCount = 10_000;
    private const int RollbackEvery = 10;

    [Fact]
    public async Task Every_committed_message_reaches_the_broker_and_no_rolled_back_one_does_across_SIGKILLs()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received, "crash-recording");
        var arguments = new[] { "--Probe:Count", $"{MessageCount}", "--Probe:RollbackEvery", $"{RollbackEvery}" };

        for (var kill = 1; kill <= 4; kill++)
        {
            await using var probe = ProbeHosts.StartProbe(infrastructure, "send", arguments);
            await probe.WaitForOutputAsync("READY", TimeSpan.FromSeconds(60));
            var runFor = TimeSpan.FromMilliseconds(Random.Shared.Next(300, 2500));
            await Task.Delay(runFor);
            await probe.KillAsync();
            output.WriteLine($"SIGKILL {kill} after {runFor.TotalMilliseconds} ms; {await CommittedCountAsync()} committed so far");
        }

        await using (var final = ProbeHosts.StartProbe(infrastructure, "send", arguments))
        {
            await final.WaitForOutputAsync("DONE", TimeSpan.FromSeconds(240));
        }

        var committed = await CommittedAsync();
        Assert.Equal(MessageCount - (MessageCount / RollbackEvery), committed.Count);
        await Eventually.HoldsAsync(
            () => Task.FromResult(committed.All(received.ByMessageId.ContainsKey)),
            TimeSpan.FromSeconds(60),
            () => $"{committed.Count(id => !received.ByMessageId.ContainsKey(id))} committed messages never reached the broker.");
        var uncommitted = received.ByMessageId.Keys.Where(id => !committed.Contains(id)).ToList();
        Assert.True(uncommitted.Count == 0, $"{uncommitted.Count} messages reached the broker without a committed transaction.");
        var rolledBack = Enumerable.Range(0, MessageCount).Where(x => x % RollbackEvery == 0).Select(ProbeDbContext.IdFor);
        Assert.DoesNotContain(rolledBack, received.ByMessageId.ContainsKey);
        output.WriteLine($"{committed.Count} committed, {received.ByMessageId.Count} distinct received, "
            + $"{received.Deliveries - received.ByMessageId.Count} duplicate deliveries (at-least-once after a crash; the inbox absorbs them)");
    }

    private async Task<HashSet<Guid>> CommittedAsync()
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("Probe").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT message_id FROM sent_log", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<Guid>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    private async Task<long> CommittedCountAsync()
    {
        try
        {
            return await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM sent_log");
        }
        catch (PostgresException)
        {
            return 0; // killed before the schema existed
        }
    }
}
