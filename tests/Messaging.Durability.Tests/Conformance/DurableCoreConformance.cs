using System.Globalization;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Xunit.Abstractions;

namespace EventBackbone.Messaging.Durability.Tests.Conformance;

/// <summary>
/// The durable core's guarantees, one per test, that every write path must keep (in the spirit of Watermill's pub/sub
/// test suite): each concrete class below runs this whole list over one <see cref="IWritePath"/>, with one and with two
/// delivery instances. Adding a path is one <see cref="IWritePath"/> class and one line here.
/// Each test gets its own vhost and database: nothing one test leaves behind can pass or fail another.
/// </summary>
public abstract class DurableCoreConformance(IWritePath path, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Generous on purpose: CI runs this on 2 cores at load > 10 beside other test assemblies. Never a speed claim.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private readonly ProbeInfrastructure _infrastructure = new();

    private ScratchDatabase Database => _infrastructure.Database("Probe");

    public Task InitializeAsync() => _infrastructure.InitializeAsync();

    public Task DisposeAsync() => _infrastructure.DisposeAsync();

    /// <summary>
    /// Probe processes write through the path and are SIGKILLed at random moments, each kill once some but not all of
    /// the messages are committed, then restarted. Every committed message must arrive; none of a rolled-back
    /// transaction may. With two instances only one is killed at a time: the other claims what the dead one leased.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Nothing_committed_is_lost_and_nothing_rolled_back_arrives_across_SIGKILLs_at_random_moments(int instances)
    {
        const int Transactions = 600;
        const int PerTransaction = 4;
        const int RollbackEvery = 10;
        const int Kills = 2;
        var expected = (Transactions - (Transactions / RollbackEvery)) * PerTransaction;
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(_infrastructure, received);
        await CreateSchemaAsync();
        var probes = new HostProcess?[instances];
        var midStreamKills = 0;
        try
        {
            for (var kill = 1; kill <= Kills; kill++)
            {
                await StartMissingAsync();
                var before = (int)await CommittedCountAsync();
                if (before >= expected)
                {
                    break; // the restarted probes finished before this round: nothing is left to interrupt
                }

                // A random moment, as a precondition the test establishes: some progress since the (re)start, and
                // well short of the end, so the kill lands mid-stream whatever the machine's speed.
                var target = before + Random.Shared.Next(1, Math.Max(2, (expected - before) / 3));
                await Eventually.HoldsAsync(
                    async () => await CommittedCountAsync() >= target,
                    Patience,
                    () => $"{path.Name}: committed messages never reached {target}.\n{Logs()}");
                var victim = Random.Shared.Next(instances);
                await probes[victim]!.KillAsync();
                await probes[victim]!.DisposeAsync();
                probes[victim] = null;
                var atKill = await CommittedCountAsync();
                midStreamKills += atKill < expected ? 1 : 0;
                output.WriteLine($"SIGKILL {kill} of probe {victim} with {atKill} of {expected} messages committed");
            }

            await StartMissingAsync();
            await Eventually.HoldsAsync(
                async () => await CommittedCountAsync() == expected,
                Patience,
                () => $"{path.Name}: not every transaction was committed after the restarts.\n{Logs()}");
            var committed = await CommittedAsync();
            await Eventually.HoldsAsync(
                () => Task.FromResult(committed.All(received.ByMessageId.ContainsKey)),
                Patience,
                () => $"{path.Name}: {committed.Count(id => !received.ByMessageId.ContainsKey(id))} committed messages never reached the broker.\n{Logs()}");

            var rolledBack = Enumerable.Range(0, Transactions).Where(x => x % RollbackEvery == 0)
                .SelectMany(x => ProbeTransaction.Create(x, PerTransaction, commit: false).Messages).Select(x => x.Id).ToList();
            Assert.True(!rolledBack.Any(received.ByMessageId.ContainsKey), $"{path.Name}: a message of a rolled-back transaction reached the broker.");
            var uncommitted = received.ByMessageId.Keys.Count(id => !committed.Contains(id));
            Assert.True(uncommitted == 0, $"{path.Name}: {uncommitted} messages reached the broker without a committed transaction.");
            Assert.True(midStreamKills > 0, $"Precondition: no SIGKILL landed before every message was committed ({Kills} tried).");
            output.WriteLine($"{committed.Count} committed, {received.ByMessageId.Count} distinct received, "
                + $"{received.Deliveries - received.ByMessageId.Count} duplicate deliveries (at-least-once after a crash; the inbox absorbs them)");
        }
        finally
        {
            foreach (var probe in probes.OfType<HostProcess>())
            {
                await probe.DisposeAsync();
            }
        }

        async Task StartMissingAsync()
        {
            for (var i = 0; i < instances; i++)
            {
                if (probes[i] is null)
                {
                    var (from, to) = (i * Transactions / instances, (i + 1) * Transactions / instances);
                    probes[i] = ProbeHosts.StartProbe(_infrastructure, "send",
                        "--Probe:WritePath", path.Name,
                        "--Probe:From", Invariant(from),
                        "--Probe:To", Invariant(to),
                        "--Probe:PerTransaction", Invariant(PerTransaction),
                        "--Probe:RollbackEvery", Invariant(RollbackEvery));
                    await probes[i]!.WaitForOutputAsync("READY", HostProcess.StartTimeout);
                }
            }
        }

        string Logs() => string.Join("\n", probes.OfType<HostProcess>().Select(x => x.Logs));
    }

    /// <summary>
    /// Every message written through the path is also published twice more with its id (two copies at once), and one
    /// counting consumer process is SIGKILLed mid-run and restarted, so the inbox sees concurrent duplicates and
    /// redeliveries of messages whose first delivery died with it. The effect must happen once per message.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Each_effect_happens_once_under_duplicates_and_redelivery(int instances)
    {
        const int Transactions = 100;
        const int PerTransaction = 5;
        const int MessageCount = Transactions * PerTransaction;
        await CreateSchemaAsync();
        var consumers = new HostProcess[instances];
        var writers = new List<IHost>();
        try
        {
            for (var i = 0; i < instances; i++)
            {
                consumers[i] = ProbeHosts.StartProbe(_infrastructure, "consume");
                await consumers[i].WaitForOutputAsync("READY", HostProcess.StartTimeout);
                writers.Add(await ProbeHosts.StartServiceAsync(_infrastructure, path.ConfigureBus));
            }

            using var duplicator = await ProbeHosts.StartReceiverAsync(_infrastructure, new ReceivedMessages(), $"unused-{Guid.NewGuid():N}");
            var bus = duplicator.Services.GetRequiredService<IBus>();
            var writing = Task.Run(async () =>
            {
                for (var number = 0; number < Transactions; number++)
                {
                    var transaction = ProbeTransaction.Create(number, PerTransaction, commit: true);
                    await Task.WhenAll(transaction.Messages.SelectMany(m => new[] { Publish(bus, m), Publish(bus, m) })
                        .Append(path.WriteAsync(writers[number % instances].Services, transaction, CancellationToken.None)));
                }
            });

            // SIGKILL once some but not all effects are committed: its unacknowledged deliveries come back.
            var target = Random.Shared.Next(1, MessageCount / 4);
            await Eventually.HoldsAsync(async () => await EffectsAsync() >= target, Patience, () => $"{path.Name}: effects never reached {target}.\n{Logs()}");
            var victim = Random.Shared.Next(instances);
            await consumers[victim].KillAsync();
            var atKill = await EffectsAsync();
            await consumers[victim].DisposeAsync();
            consumers[victim] = ProbeHosts.StartProbe(_infrastructure, "consume");
            await consumers[victim].WaitForOutputAsync("READY", HostProcess.StartTimeout);
            await writing;

            var ids = Enumerable.Range(0, MessageCount).Select(ProbeDbContext.IdFor).ToArray();
            // Every message has its row and every copy was received: a redelivery after the kill adds to one message's
            // count, so the total alone could be reached while another message is still on its way.
            await Eventually.HoldsAsync(
                async () => await Database.ScalarAsync<long>("SELECT count(*) FROM inbox_state WHERE message_id = ANY(@ids)", ("ids", ids)) == MessageCount
                    && await Database.ScalarAsync<long>(
                        "SELECT coalesce(sum(receive_count), 0)::bigint FROM inbox_state WHERE message_id = ANY(@ids)", ("ids", ids)) >= 3 * MessageCount,
                Patience,
                () => $"{path.Name}: not every copy reached the inbox.\n{Logs()}");
            output.WriteLine($"SIGKILL of consumer {victim} at {atKill} of {MessageCount} effects");
            Assert.True(atKill < MessageCount, $"Precondition: the consumer was killed only after every effect ({atKill}) was committed.");
            Assert.Equal(MessageCount, await EffectsAsync());
            Assert.Equal(MessageCount, await Database.ScalarAsync<long>("SELECT count(*) FROM inbox_state WHERE message_id = ANY(@ids)", ("ids", ids)));
        }
        finally
        {
            foreach (var writer in writers)
            {
                writer.Dispose();
            }

            foreach (var consumer in consumers.OfType<HostProcess>())
            {
                await consumer.DisposeAsync();
            }
        }

        static Task Publish(IBus bus, ProbeMessage message) => bus.Publish(message, x => x.MessageId = message.Id);

        string Logs() => string.Join("\n", consumers.OfType<HostProcess>().Select(x => x.Logs));
    }

    /// <summary>
    /// Transactions of ten messages written concurrently, each instance writing and delivering: a receiver that takes
    /// one message at a time must see every transaction's messages in publish order, each exactly once.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Messages_of_one_transaction_arrive_once_each_in_publish_order(int instances)
    {
        const int Transactions = 40;
        const int PerTransaction = 10;
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(_infrastructure, received, ordered: true);
        var hosts = await StartServicesAsync(instances);
        try
        {
            var transactions = Enumerable.Range(0, Transactions).Select(x => ProbeTransaction.Create(x, PerTransaction, commit: true)).ToList();
            // Four writers at once, so transactions interleave on the way to the broker.
            await Parallel.ForEachAsync(transactions, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (transaction, cancel) =>
                await path.WriteAsync(hosts[transaction.Number % instances].Services, transaction, cancel));

            var ids = transactions.SelectMany(x => x.Messages).Select(x => x.Id).ToList();
            await Eventually.HoldsAsync(
                () => Task.FromResult(ids.All(received.ByMessageId.ContainsKey)),
                Patience,
                () => $"{path.Name}: {ids.Count(received.ByMessageId.ContainsKey)} of {ids.Count} messages arrived.");
            await WaitUntilOutboxEmptyAsync();

            var arrivals = received.Arrivals.ToList();
            foreach (var transaction in transactions)
            {
                var order = transaction.Messages.Select(x => arrivals.IndexOf(x.Id)).ToList();
                Assert.True(order.SequenceEqual(order.Order()), $"{path.Name}: transaction {transaction.Number} arrived as positions {string.Join(", ", order)}.");
            }

            var duplicated = ids.Count(id => received.ByMessageId[id] > 1);
            Assert.True(duplicated == 0, $"{path.Name}: {duplicated} messages were sent more than once.");
        }
        finally
        {
            DisposeAll(hosts);
        }
    }

    /// <summary>
    /// The scheduling process is SIGKILLed before the due time; delivery instances started afterwards must send the
    /// scheduled message once, not before its time, and never the one cancelled in the same unit of work. A path that
    /// cannot schedule must refuse, never send a delayed message at once.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_scheduled_message_is_sent_once_at_its_time_and_a_cancelled_one_never(int instances)
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(_infrastructure, received);
        if (!path.CanSchedule)
        {
            var host = (await StartServicesAsync(1))[0];
            try
            {
                var refused = new ProbeSchedule(new Uri("queue:probe-recording"), TimeSpan.FromMinutes(5), 0);
                await Assert.ThrowsAsync<NotSupportedException>(() => path.ScheduleAsync(host.Services, refused, CancellationToken.None));
                Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = @id", ("id", refused.Kept.Id)));
                return;
            }
            finally
            {
                host.Dispose();
            }
        }

        // Proof needs the scheduling host dead before the message is due: alive past its due time, it may have sent it
        // itself. Scheduling, reporting and the kill take what the machine's load makes them take, so the precondition
        // is established, not assumed: an arrangement whose host outlived its due time is set aside (its ids are its
        // own) and made again with twice the delay: 2 s, then 4, 8, ... s on a loaded machine.
        const int Arrangements = 6;
        var delay = 2;
        ProbeSchedule? schedule = null;
        var dueAt = DateTime.MaxValue;
        var killedBeforeDue = false;
        for (var arrangement = 0; arrangement < Arrangements && !killedBeforeDue; arrangement++, delay *= 2)
        {
            await using var scheduling = ProbeHosts.StartProbe(_infrastructure, "schedule",
                "--Probe:WritePath", path.Name, "--Probe:DelaySeconds", Invariant(delay), "--Probe:Arrangement", Invariant(arrangement));
            await scheduling.WaitForOutputAsync("SCHEDULED", HostProcess.StartTimeout);
            // SIGKILL right away: the schedule must survive a crash of the host that made it, not only a clean stop.
            await scheduling.KillAsync();
            var line = scheduling.Output.Split('\n').First(x => x.StartsWith("SCHEDULED ", StringComparison.Ordinal));
            dueAt = DateTime.Parse(line["SCHEDULED ".Length..].Trim(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind).ToUniversalTime();
            schedule = new ProbeSchedule(new Uri("queue:probe-recording"), TimeSpan.FromSeconds(delay), arrangement);
            // Read once, right after the kill: the time that passes from here on is not the host's.
            killedBeforeDue = DateTime.UtcNow < dueAt;
            output.WriteLine($"Arrangement {arrangement + 1}: due in {delay} s; the scheduling host was {(killedBeforeDue ? "killed before" : "still alive at")} its due time.");
        }

        Assert.True(killedBeforeDue, $"Precondition: {Arrangements} scheduling hosts in a row outlived their due time.");
        var (kept, cancelled) = (schedule!.Kept.Id, schedule.Cancelled.Id);
        Assert.False(received.ByMessageId.ContainsKey(kept) || received.ByMessageId.ContainsKey(cancelled), "A scheduled message arrived while no host could send it.");

        var hosts = await StartServicesAsync(instances);
        try
        {
            await Eventually.HoldsAsync(
                () => Task.FromResult(received.ByMessageId.ContainsKey(kept)),
                (dueAt - DateTime.UtcNow) + Patience,
                () => $"{path.Name}: the scheduled message never arrived after the restart.");
            Assert.True(received.FirstArrival[kept] >= dueAt, $"{path.Name}: the scheduled message arrived before its due time.");
            // An empty outbox cannot send anything more: only now are "once" and "never" final.
            await WaitUntilOutboxEmptyAsync();
            Assert.Equal(1, received.ByMessageId[kept]);
            Assert.False(received.ByMessageId.ContainsKey(cancelled), $"{path.Name}: a cancelled scheduled message arrived.");
        }
        finally
        {
            DisposeAll(hosts);
        }
    }

    /// <summary>
    /// A committed outbox group that no transport can deliver keeps failing (attempts are set high, so it is not parked
    /// during the test): everything written through the path afterwards must still arrive, each once. The hand-off
    /// lease is ten minutes, so a message held up behind the poison row cannot arrive later by a claim within the
    /// test's patience: "delayed" shows as "never arrived", with no clock in the assertion.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task One_poison_row_delays_nobody(int instances)
    {
        const int Transactions = 30;
        const int PerTransaction = 10;
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(_infrastructure, received);
        var hosts = await StartServicesAsync(instances, new Dictionary<string, string>
        {
            ["Backbone:Messaging:MaxDeliveryAttempts"] = "1000",
            ["Backbone:Messaging:HandoffLease"] = "00:10:00",
        });
        try
        {
            var poison = await AddPoisonRowAsync(hosts[0]);

            var transactions = Enumerable.Range(0, Transactions).Select(x => ProbeTransaction.Create(x, PerTransaction, commit: true)).ToList();
            foreach (var transaction in transactions)
            {
                await path.WriteAsync(hosts[transaction.Number % instances].Services, transaction, CancellationToken.None);
            }

            var ids = transactions.SelectMany(x => x.Messages).Select(x => x.Id).ToList();
            await Eventually.HoldsAsync(
                () => Task.FromResult(ids.All(received.ByMessageId.ContainsKey)),
                Patience,
                () => $"{path.Name}: {ids.Count(received.ByMessageId.ContainsKey)} of {ids.Count} messages arrived while a poison row kept failing.");
            // Still there and not parked: the others did not wait for it to be set aside.
            Assert.Equal(1, await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_state WHERE outbox_id = @id AND parked_at IS NULL", ("id", poison)));
            await Eventually.HoldsAsync(
                async () => await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())) == 0,
                Patience,
                () => $"{path.Name}: delivered messages were left in the outbox.");
            Assert.All(ids, id => Assert.Equal(1, received.ByMessageId[id]));
        }
        finally
        {
            DisposeAll(hosts);
        }
    }

    /// <summary>A committed row whose destination no transport can resolve: every delivery attempt fails.</summary>
    internal static async Task<Guid> AddPoisonRowAsync(IHost host)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
        var group = new OutboxState { OutboxId = NewId.NextGuid() };
        db.Add(group);
        db.Add(new OutboxMessage
        {
            OutboxId = group.OutboxId,
            MessageId = NewId.NextGuid(),
            ContentType = "application/vnd.masstransit+json",
            MessageType = "urn:message:EventBackbone.Messaging.Probe:ProbeMessage",
            Body = "{}",
            DestinationAddress = new Uri("unknown-transport://nowhere/poison"),
            SentTime = DateTime.UtcNow,
        });
        await db.SaveChangesAsync();
        return group.OutboxId;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void DisposeAll(IEnumerable<IHost> hosts)
    {
        foreach (var host in hosts)
        {
            host.Dispose();
        }
    }

    /// <summary>Started one after another: two hosts creating the probe schema at once would race on it.</summary>
    private async Task<List<IHost>> StartServicesAsync(int instances, IReadOnlyDictionary<string, string>? settings = null)
    {
        var hosts = new List<IHost>();
        for (var i = 0; i < instances; i++)
        {
            hosts.Add(await ProbeHosts.StartServiceAsync(_infrastructure, path.ConfigureBus, settings));
        }

        return hosts;
    }

    /// <summary>Probe processes start together: the schema is created first, so they do not race on creating it.</summary>
    private async Task CreateSchemaAsync()
    {
        using var host = await ProbeHosts.StartServiceAsync(_infrastructure);
        await host.StopAsync();
    }

    private async Task WaitUntilOutboxEmptyAsync() =>
        await Eventually.HoldsAsync(
            async () => await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages") == 0,
            Patience,
            () => $"{path.Name}: the outbox never emptied.");

    private async Task<long> EffectsAsync() =>
        await Database.ScalarAsync<long?>("SELECT value FROM counters WHERE name = 'effects'") ?? 0;

    private async Task<long> CommittedCountAsync() => await Database.ScalarAsync<long>("SELECT count(*) FROM sent_log");

    private async Task<HashSet<Guid>> CommittedAsync()
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
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
}

/// <summary>(a) Scoped IPublishEndpoint + the caller's SaveChanges and transaction.</summary>
public sealed class EfCoreBusOutboxConformance(ITestOutputHelper output) : DurableCoreConformance(new EfCoreBusOutboxPath(), output);

/// <summary>(b) The group-commit publisher for callers without a business transaction.</summary>
public sealed class GroupCommitPublisherConformance(ITestOutputHelper output) : DurableCoreConformance(new GroupCommitPublisherPath(), output);

/// <summary>(c) What a consumer publishes, one inbox transaction per message.</summary>
public sealed class ConsumerOutboxConformance(ITestOutputHelper output) : DurableCoreConformance(new ConsumerOutboxPath(), output);

/// <summary>(d) What a consumer publishes, with batched inbox transactions.</summary>
public sealed class BatchedConsumerOutboxConformance(ITestOutputHelper output) : DurableCoreConformance(new BatchedConsumerOutboxPath(), output);
