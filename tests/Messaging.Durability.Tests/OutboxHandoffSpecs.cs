using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>
/// Groups this process commits are sent from memory right after the commit, written leased to its own delivery
/// service. These specs hold what that must never change: only committed groups are sent, once, and a group whose
/// sender died is still delivered by a claim once its lease has run out.
/// </summary>
public sealed class OutboxHandoffSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    // Long lease and rare polls: within this time only the hand-off can have sent a group, the claim query cannot.
    private static readonly Dictionary<string, string> SlowClaims = new()
    {
        ["Backbone:Messaging:HandoffLease"] = "00:01:00",
        ["Backbone:Messaging:PollInterval"] = "00:05:00",
    };

    [Fact]
    public async Task A_committed_group_is_sent_from_memory_without_waiting_for_a_claim()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var ids = Enumerable.Range(0, 20).Select(ProbeDbContext.IdFor).ToList();

        DateTime lease;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
            var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            await using var transaction = await db.Database.BeginTransactionAsync();
            for (var sequence = 0; sequence < ids.Count; sequence++)
            {
                await publish.Publish(new ProbeMessage(ids[sequence], sequence), context => context.MessageId = ids[sequence]);
            }

            // Measured from before the write, so a slow machine cannot make a correct lease look short.
            var writtenAfter = DateTime.UtcNow;
            await db.SaveChangesAsync();
            lease = await db.Database.SqlQueryRaw<DateTime>("SELECT locked_until AS \"Value\" FROM outbox_state").SingleAsync();
            Assert.True(lease > writtenAfter.AddSeconds(50), $"The group was written leased until {lease:O}, not for the hand-off lease.");
            await transaction.CommitAsync();
        }

        // Until the lease runs out no claim can take the group, whatever the machine's speed: arriving before then is
        // what proves the hand-off sent it (a stopwatch bound here failed on a loaded machine without proving more).
        await Eventually.HoldsAsync(
            () => Task.FromResult(ids.All(received.ByMessageId.ContainsKey)),
            lease - DateTime.UtcNow,
            () => $"{ids.Count(received.ByMessageId.ContainsKey)} of {ids.Count} messages arrived before the lease ran out at {lease:O}; only the hand-off could have sent them.");
        Assert.True(ids.Max(id => received.FirstArrival[id]) < lease, $"The last message arrived after the lease ran out at {lease:O}: a claim may have sent it.");
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM outbox_state") == 0,
            TimeSpan.FromSeconds(10),
            () => "The delivered group was not deleted.");
        Assert.All(ids, id => Assert.Equal(1, received.ByMessageId[id]));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_transaction_its_context_abandoned_is_never_sent_by_the_context_s_next_commit()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var abandoned = ProbeDbContext.IdFor(100);
        var committed = ProbeDbContext.IdFor(101);

        // Saved inside a transaction that is disposed without commit: rolled back by the database, with no rollback
        // seen by EF Core's interceptors. Then the same DbContext instance — as a pooled one is, in its next scope —
        // commits another transaction.
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
            var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            var abandonedTransaction = await db.Database.BeginTransactionAsync();
            await publish.Publish(new ProbeMessage(abandoned, 100), context => context.MessageId = abandoned);
            await db.SaveChangesAsync();
            await abandonedTransaction.DisposeAsync();
            db.ChangeTracker.Clear();

            await using var transaction = await db.Database.BeginTransactionAsync();
            await publish.Publish(new ProbeMessage(committed, 101), context => context.MessageId = committed);
            await db.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        await Eventually.HoldsAsync(
            () => Task.FromResult(received.ByMessageId.ContainsKey(committed)),
            TimeSpan.FromSeconds(20),
            () => "The committed message never arrived.");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(received.ByMessageId.ContainsKey(abandoned), "A message of a transaction that never committed reached the broker.");
        await host.StopAsync();
    }

    [Fact]
    public async Task A_group_whose_sender_is_gone_is_delivered_by_a_claim_once_its_lease_runs_out()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: new Dictionary<string, string>
        {
            ["Backbone:Messaging:HandoffLease"] = "00:00:03",
            ["Backbone:Messaging:PollInterval"] = "00:00:00.200",
        });
        var orphan = ProbeDbContext.IdFor(200);

        // What a process SIGKILLed between commit and send leaves behind: a committed group leased to a sender that
        // never sends it. Closing the hand-off before the commit stands in for the dead process.
        DateTime leasedUntil;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
            var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            await using var transaction = await db.Database.BeginTransactionAsync();
            await publish.Publish(new ProbeMessage(orphan, 200), context => context.MessageId = orphan);
            await db.SaveChangesAsync();
            leasedUntil = await db.Database.SqlQueryRaw<DateTime>("SELECT locked_until AS \"Value\" FROM outbox_state").SingleAsync();
            host.Services.GetRequiredService<OutboxHandoff>().Close(typeof(ProbeDbContext));
            await transaction.CommitAsync();
        }

        await Eventually.HoldsAsync(
            () => Task.FromResult(received.FirstArrival.ContainsKey(orphan)),
            TimeSpan.FromSeconds(30),
            () => "The orphaned group was never delivered.");
        Assert.True(received.FirstArrival[orphan] >= leasedUntil.AddMilliseconds(-100),
            $"Sent at {received.FirstArrival[orphan]:O}, while its lease ran until {leasedUntil:O}: a claim took a leased group.");
        Assert.Equal(1, received.ByMessageId[orphan]);
        await host.StopAsync();
    }
}
