using System.Diagnostics;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>
/// The group-commit publisher (<see cref="IDurablePublisher"/>): concurrent callers share one round trip and one
/// transaction, each keeps an outbox group of its own, and nothing reaches the broker before the commit. Batching is
/// made certain, not hoped for: the engine runs with one writer whose commit the test holds on an advisory lock while
/// the other callers queue up behind it; triggers record which transaction wrote and which deleted each row.
/// </summary>
public sealed class DurablePublisherSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>, IDisposable
{
    private const long BlockingLock = 4242;
    private static readonly ActivitySource TestSource = new("EventBackbone.Tests");

    private static readonly Dictionary<string, string> SlowClaims = new()
    {
        ["Backbone:Messaging:HandoffLease"] = "00:01:00",
        ["Backbone:Messaging:PollInterval"] = "00:05:00",
    };

    private readonly ActivityListener _listener = new()
    {
        ShouldListenTo = source => source.Name is "MassTransit" or "EventBackbone.Tests",
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    private NpgsqlConnection? _holder;

    private ScratchDatabase Database => infrastructure.Database("Probe");

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Concurrent_callers_share_one_transaction_and_each_keeps_its_own_group_in_publish_order()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);
        await InstallWriteLogAsync();
        var publisher = OneWriter(host);
        // Ids descending within a caller, so an order by id could not pass for publish order.
        var callers = Enumerable.Range(0, 20).Select(c => Enumerable.Range(0, 3).Select(k => ProbeDbContext.IdFor(1000 + (c * 10) + (2 - k))).ToList()).ToList();

        await using (await HoldCommitsAsync(publisher))
        {
            var publishing = callers.Select(ids => publisher.PublishAllAsync(async endpoint =>
            {
                foreach (var id in ids)
                {
                    await endpoint.Publish(new ProbeMessage(id, 0), context => context.MessageId = id);
                }
            }, CancellationToken.None)).ToList();
            await WaitForQueuedAsync(publisher, callers.Count);
            await ReleaseAsync();
            await Task.WhenAll(publishing);
        }

        var written = await ReadWriteLogAsync([.. callers.SelectMany(x => x)]);
        Assert.Single(written.Select(x => x.TxId).Distinct());
        Assert.Equal(callers.Count, written.Select(x => x.OutboxId).Distinct().Count());
        foreach (var ids in callers)
        {
            var rows = written.Where(x => ids.Contains(x.MessageId)).OrderBy(x => x.SequenceNumber).ToList();
            Assert.Single(rows.Select(x => x.OutboxId).Distinct());
            Assert.Equal(ids, rows.Select(x => x.MessageId));
        }

        var all = callers.SelectMany(x => x).ToList();
        await Eventually.HoldsAsync(
            () => Task.FromResult(all.All(received.ByMessageId.ContainsKey)),
            TimeSpan.FromSeconds(60),
            () => $"{all.Count(received.ByMessageId.ContainsKey)} of {all.Count} messages arrived.");
        Assert.All(all, id => Assert.Equal(1, received.ByMessageId[id]));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_failed_commit_fails_every_caller_of_its_transaction_and_nothing_of_it_reaches_the_broker()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);
        var publisher = OneWriter(host);
        var ids = Enumerable.Range(2000, 10).Select(ProbeDbContext.IdFor).ToList();

        List<Task> publishing;
        Task refused;
        await using (await HoldCommitsAsync(publisher))
        {
            publishing = [.. ids.Select(id => publisher.PublishAsync(new ProbeMessage(id, 0), context => context.MessageId = id, CancellationToken.None))];
            // Not a constraint or data error of one caller's row: the transaction as a whole is refused.
            refused = publisher.WriteAsync(new StatementWriter("DO $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"), 0, CancellationToken.None);
            await WaitForQueuedAsync(publisher, ids.Count + 1);
            await ReleaseAsync();
            await Assert.ThrowsAsync<PostgresException>(() => refused);
        }

        foreach (var task in publishing)
        {
            var failure = await Assert.ThrowsAsync<PostgresException>(() => task);
            Assert.Equal(PostgresErrorCodes.RaiseException, failure.SqlState);
        }

        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())));
        // A later message that arrives proves delivery is running; the refused ones never went out before it.
        var marker = ProbeDbContext.IdFor(2099);
        await publisher.PublishAsync(new ProbeMessage(marker, 0), context => context.MessageId = marker, CancellationToken.None);
        await Eventually.HoldsAsync(() => Task.FromResult(received.ByMessageId.ContainsKey(marker)), TimeSpan.FromSeconds(60), () => "The marker never arrived.");
        Assert.DoesNotContain(ids, received.ByMessageId.ContainsKey);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_caller_whose_own_statement_breaks_the_transaction_fails_alone_and_the_others_commit()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);
        var publisher = OneWriter(host);
        var taken = 3000;
        await Database.ScalarAsync<int>("INSERT INTO sent_log (sequence, message_id) VALUES (@sequence, @id) RETURNING sequence", ("sequence", taken), ("id", Guid.NewGuid()));
        var ids = Enumerable.Range(3001, 5).Select(ProbeDbContext.IdFor).ToList();

        await using (await HoldCommitsAsync(publisher))
        {
            var publishing = ids.Select(id => publisher.PublishAsync(new ProbeMessage(id, 0), context => context.MessageId = id, CancellationToken.None)).ToList();
            var duplicate = publisher.WriteAsync(new StatementWriter($"INSERT INTO sent_log (sequence, message_id) VALUES ({taken}, gen_random_uuid())"), 0, CancellationToken.None);
            await WaitForQueuedAsync(publisher, ids.Count + 1);
            await ReleaseAsync();

            var failure = await Assert.ThrowsAsync<PostgresException>(() => duplicate);
            Assert.Equal(PostgresErrorCodes.UniqueViolation, failure.SqlState);
            await Task.WhenAll(publishing);
        }

        await Eventually.HoldsAsync(
            () => Task.FromResult(ids.All(received.ByMessageId.ContainsKey)),
            TimeSpan.FromSeconds(60),
            () => $"{ids.Count(received.ByMessageId.ContainsKey)} of {ids.Count} messages of the other callers arrived.");
        await host.StopAsync();
    }

    [Fact]
    public async Task One_caller_s_undeliverable_group_is_parked_and_the_other_callers_of_its_transaction_are_delivered()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: new Dictionary<string, string> { ["Backbone:Messaging:MaxDeliveryAttempts"] = "2" });
        await InstallWriteLogAsync();
        var publisher = OneWriter(host);
        var poison = ProbeDbContext.IdFor(4000);
        var afterPoison = ProbeDbContext.IdFor(4001);
        var others = Enumerable.Range(4010, 10).Select(ProbeDbContext.IdFor).ToList();

        await using (await HoldCommitsAsync(publisher))
        {
            var poisoned = publisher.PublishAllAsync(async endpoint =>
            {
                // A destination no transport can resolve: every delivery attempt of this group fails.
                await endpoint.Publish(new ProbeMessage(poison, 0), context =>
                {
                    context.MessageId = poison;
                    context.DestinationAddress = new Uri("unknown-transport://nowhere/poison");
                });
                await endpoint.Publish(new ProbeMessage(afterPoison, 0), context => context.MessageId = afterPoison);
            }, CancellationToken.None);
            var publishing = others.Select(id => publisher.PublishAsync(new ProbeMessage(id, 0), context => context.MessageId = id, CancellationToken.None)).ToList();
            await WaitForQueuedAsync(publisher, others.Count + 1);
            await ReleaseAsync();
            await Task.WhenAll([poisoned, .. publishing]);
        }

        Assert.Single((await ReadWriteLogAsync([poison, .. others])).Select(x => x.TxId).Distinct());
        await Eventually.HoldsAsync(
            () => Task.FromResult(others.All(received.ByMessageId.ContainsKey)),
            TimeSpan.FromSeconds(60),
            () => $"{others.Count(received.ByMessageId.ContainsKey)} of {others.Count} messages of the other callers arrived.");
        await Eventually.HoldsAsync(
            async () => await Database.ScalarAsync<long>("""
                SELECT count(*) FROM outbox_state s JOIN outbox_messages m ON m.outbox_id = s.outbox_id
                WHERE m.message_id = @id AND s.parked_at IS NOT NULL
                """, ("id", poison)) == 1,
            TimeSpan.FromSeconds(60),
            () => "The poison group was never parked.");
        // In its own group, the poison message holds back only what its caller published after it.
        Assert.False(received.ByMessageId.ContainsKey(afterPoison), "A message published after the poison one in the same group was sent out of order.");
        await host.StopAsync();
    }

    [Fact]
    public async Task Groups_committed_together_are_deleted_after_delivery_in_far_fewer_transactions_than_groups()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        await InstallDeleteLogAsync();
        var publisher = OneWriter(host);
        var ids = Enumerable.Range(5000, 60).Select(ProbeDbContext.IdFor).ToList();

        await using (await HoldCommitsAsync(publisher))
        {
            var publishing = ids.Select(id => publisher.PublishAsync(new ProbeMessage(id, 0), context => context.MessageId = id, CancellationToken.None)).ToList();
            await WaitForQueuedAsync(publisher, ids.Count);
            await ReleaseAsync();
            await Task.WhenAll(publishing);
        }

        await Eventually.HoldsAsync(
            async () => await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())) == 0,
            TimeSpan.FromSeconds(60),
            () => "The delivered messages were not deleted.");
        var deletingTransactions = await Database.ScalarAsync<long>("SELECT count(DISTINCT txid) FROM publisher_deletes");
        // One delete per drained hand-off batch (DeliveryConcurrency workers take up to DeliveryBatchSize groups each).
        Assert.True(deletingTransactions <= 10, $"{ids.Count} single-message groups were deleted in {deletingTransactions} transactions.");
        await host.StopAsync();
    }

    [Fact]
    public async Task A_scheduled_publish_is_sent_once_at_its_due_time_and_a_cancelled_one_never()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);
        var publisher = host.Services.GetRequiredService<IDurablePublisher>();
        var due = ProbeDbContext.IdFor(6000);
        var cancelled = ProbeDbContext.IdFor(6001);
        var dueAt = DateTime.UtcNow.AddSeconds(3);

        await publisher.SchedulePublishAsync(dueAt, new ProbeMessage(due, 0), context => context.MessageId = due, CancellationToken.None);
        var token = await publisher.SchedulePublishAsync(dueAt, new ProbeMessage(cancelled, 0), context => context.MessageId = cancelled, CancellationToken.None);
        await publisher.CancelScheduledPublishAsync(token, CancellationToken.None);

        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = @id", ("id", cancelled)));
        await Eventually.HoldsAsync(() => Task.FromResult(received.ByMessageId.ContainsKey(due)), TimeSpan.FromSeconds(60), () => "The scheduled message never arrived.");
        Assert.True(received.FirstArrival[due] >= dueAt, $"The scheduled message arrived at {received.FirstArrival[due]:O}, before its due time {dueAt:O}.");
        // Sent and deleted: nothing is left that could send it again.
        await Eventually.HoldsAsync(
            async () => await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = @id", ("id", due)) == 0,
            TimeSpan.FromSeconds(30),
            () => "The sent scheduled message was not deleted.");
        Assert.Equal(1, received.ByMessageId[due]);
        Assert.False(received.ByMessageId.ContainsKey(cancelled), "A cancelled scheduled publish was sent.");
        await host.StopAsync();
    }

    [Fact]
    public async Task A_lone_caller_is_committed_without_waiting_for_others_and_its_envelope_survives_the_hop()
    {
        ActivitySource.AddActivityListener(_listener);
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        // Only the hand-off can deliver in time: the lease is a minute and the claim polls every five.
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var publisher = host.Services.GetRequiredService<IDurablePublisher>();
        var id = ProbeDbContext.IdFor(7000);
        var correlationId = NewId.NextGuid();

        string traceId;
        using (var request = TestSource.StartActivity("http request"))
        {
            traceId = request!.TraceId.ToString();
            // Nothing else is queued: a publisher that waited for a batch to fill would never return.
            await publisher.PublishAsync(new ProbeMessage(id, 7000), context =>
            {
                context.MessageId = id;
                context.CorrelationId = correlationId;
                context.Headers.Set("X-Backbone-Test", "kept");
            }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        }

        await Eventually.HoldsAsync(() => Task.FromResult(received.Envelopes.ContainsKey(id)), TimeSpan.FromSeconds(20), () => "The message did not arrive.");
        Assert.Equal(new ReceivedEnvelope(correlationId, received.Envelopes[id].ConversationId, "kept", traceId), received.Envelopes[id]);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_writer_s_statement_commits_with_its_messages_handed_off_as_one_group_leased_to_the_lane_with_the_stored_sequence_numbers()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        // A lane of the test's own, so the group stays observable instead of being sent and deleted.
        var handoff = new OutboxHandoff();
        var lockId = Guid.NewGuid();
        var lane = handoff.Open(typeof(ProbeDbContext), lockId, TimeSpan.FromMinutes(1), capacity: 10);
        var publisher = new DurablePublisher<ProbeDbContext>(
            host.Services.GetRequiredService<ServiceDataSource<ProbeDbContext>>(),
            host.Services.GetRequiredService<IBus>(),
            handoff,
            host.Services.GetRequiredService<OutboxSignal>(),
            host.Services);
        var ids = Enumerable.Range(500, 30).Reverse().Select(ProbeDbContext.IdFor).ToList();

        await publisher.WriteAsync(new StatementWriter("INSERT INTO sent_log (sequence, message_id) VALUES (500, gen_random_uuid())", ids), 0, CancellationToken.None);

        Assert.Equal(1, await Database.ScalarAsync<long>("SELECT count(*) FROM sent_log WHERE sequence = 500"));
        Assert.True(lane.TryRead(out var group), "The committed group was not handed off.");
        Assert.Equal(lockId, group.LockId);
        Assert.Equal(ids, group.Messages.Select(x => x.MessageId));
        var stored = await ReadStoredAsync(group.OutboxId);
        Assert.Equal(ids, stored.Select(x => x.MessageId));
        Assert.Equal(stored.Select(x => x.SequenceNumber), group.Messages.Select(x => x.SequenceNumber));
        Assert.Equal(lockId, await Database.ScalarAsync<Guid>("SELECT lock_id FROM outbox_state WHERE outbox_id = @id", ("id", group.OutboxId)));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_delayed_publish_is_refused_rather_than_sent_at_once_and_a_caller_with_nothing_to_publish_writes_no_group()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var publisher = host.Services.GetRequiredService<IDurablePublisher>();
        var id = ProbeDbContext.IdFor(600);

        await Assert.ThrowsAsync<NotSupportedException>(() => publisher.PublishAsync(new ProbeMessage(id, 600), context =>
        {
            context.MessageId = id;
            context.Delay = TimeSpan.FromMinutes(5);
        }, CancellationToken.None));
        await publisher.PublishAllAsync(_ => Task.CompletedTask, CancellationToken.None);

        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = @id", ("id", id)));
        Assert.Equal(0, await Database.ScalarAsync<long>(
            "SELECT count(*) FROM outbox_state s WHERE NOT EXISTS (SELECT 1 FROM outbox_messages m WHERE m.outbox_id = s.outbox_id)"));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_writer_whose_prepare_failed_is_not_committed_by_the_retry_of_its_batch()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var publisher = OneWriter(host);
        var taken = 8000;
        await Database.ScalarAsync<int>("INSERT INTO sent_log (sequence, message_id) VALUES (@sequence, @id) RETURNING sequence", ("sequence", taken), ("id", Guid.NewGuid()));
        // Its lookup fails once (a timeout): its caller is told "failed", so nothing of it may commit afterwards.
        var flaky = new FailsOnceWriter("INSERT INTO sent_log (sequence, message_id) VALUES (8001, gen_random_uuid())");

        await using (await HoldCommitsAsync(publisher))
        {
            var failing = publisher.WriteAsync(flaky, 0, CancellationToken.None);
            // A unique violation of another caller sends the batch to the retry.
            var duplicate = publisher.WriteAsync(new StatementWriter($"INSERT INTO sent_log (sequence, message_id) VALUES ({taken}, gen_random_uuid())"), 0, CancellationToken.None);
            await WaitForQueuedAsync(publisher, 2);
            await ReleaseAsync();
            await Assert.ThrowsAsync<TimeoutException>(() => failing);
            await Assert.ThrowsAsync<PostgresException>(() => duplicate);
        }

        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM sent_log WHERE sequence = 8001"));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_scheduled_publish_whose_send_failed_is_cancelled_during_its_backoff_and_never_sent()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);
        var publisher = host.Services.GetRequiredService<IDurablePublisher>();
        var cancelled = ProbeDbContext.IdFor(8100);
        // Due in an hour, so no delivery service touches it before the test puts it in its failed state.
        var token = await publisher.SchedulePublishAsync(DateTime.UtcNow.AddHours(1), new ProbeMessage(cancelled, 0), context => context.MessageId = cancelled, CancellationToken.None);
        // Due now and just failed, as the delivery service leaves a group after a failed send (OutboxDeliveryService):
        // the lease released (lock_id NULL), the next attempt after a backoff (locked_until in the future).
        await Database.ScalarAsync<long>("""
            WITH failed AS (
                UPDATE outbox_state SET not_before = now() - interval '1 second', attempts = 1, last_error = 'refused by the test',
                    lock_id = NULL, locked_until = now() + interval '1 second'
                WHERE schedule_token_id = @token RETURNING 1)
            SELECT count(*) FROM failed
            """, ("token", token));

        var deleted = await publisher.CancelScheduledPublishAsync(token, CancellationToken.None);

        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = @id", ("id", cancelled)));
        Assert.True(deleted, "Cancel reported that nothing was deleted.");
        // Due after the backoff has run out: once it arrives, a surviving cancelled row would have been claimable too.
        var marker = ProbeDbContext.IdFor(8101);
        await publisher.SchedulePublishAsync(DateTime.UtcNow.AddSeconds(3), new ProbeMessage(marker, 0), context => context.MessageId = marker, CancellationToken.None);
        await Eventually.HoldsAsync(() => Task.FromResult(received.ByMessageId.ContainsKey(marker)), TimeSpan.FromSeconds(60), () => "The marker never arrived.");
        Assert.False(received.ByMessageId.ContainsKey(cancelled), "A cancelled scheduled publish was sent after its backoff.");
        Assert.False(await publisher.CancelScheduledPublishAsync(token, CancellationToken.None), "Cancelling twice reported a deletion.");
        await host.StopAsync();
    }

    [Fact]
    public async Task A_writer_statement_that_returns_a_result_set_does_not_fail_its_committed_callers()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var publisher = OneWriter(host);
        var id = ProbeDbContext.IdFor(8200);

        // A statement that returns rows (here an INSERT … RETURNING) must not be taken for the outbox insert's RETURNING.
        await publisher.WriteAsync(new StatementWriter("INSERT INTO sent_log (sequence, message_id) VALUES (8200, gen_random_uuid()) RETURNING sequence", [id]), 0, CancellationToken.None);

        Assert.Equal(1, await Database.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE message_id = @id", ("id", id)));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_writer_started_in_one_request_s_trace_does_not_carry_it_into_later_callers_batches()
    {
        ActivitySource.AddActivityListener(_listener);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var publisher = OneWriter(host);
        var capturing = new CapturingWriter();

        NpgsqlConnection holder;
        using (TestSource.StartActivity("first request"))
        {
            // The writer loop starts here, inside the first request's trace, and lives on for the next batches.
            holder = await HoldCommitsAsync(publisher);
        }

        await using (holder)
        {
            Assert.Null(Activity.Current);
            var later = publisher.WriteAsync(capturing, 0, CancellationToken.None);
            await WaitForQueuedAsync(publisher, 1);
            await ReleaseAsync();
            await later;
        }

        Assert.Null(capturing.Seen?.DisplayName);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_publish_after_the_group_was_handed_to_the_commit_throws_instead_of_being_lost()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var publisher = host.Services.GetRequiredService<IDurablePublisher>();
        IPublishEndpoint? escaped = null;

        await publisher.PublishAllAsync(endpoint =>
        {
            // A delegate that starts a publish without awaiting it: that publish finishes after the group was taken.
            escaped = endpoint;
            return Task.CompletedTask;
        }, CancellationToken.None);

        var late = ProbeDbContext.IdFor(8300);
        await Assert.ThrowsAsync<InvalidOperationException>(() => escaped!.Publish(new ProbeMessage(late, 0), context => context.MessageId = late));
        var writer = new EscapingWriter();
        await publisher.WriteAsync(writer, 0, CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(() => writer.Escaped!.Publish(new ProbeMessage(late, 0), context => context.MessageId = late));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_serialization_failure_of_a_shared_batch_is_retried_and_its_callers_commit()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var publisher = OneWriter(host);
        var ids = Enumerable.Range(8401, 5).Select(ProbeDbContext.IdFor).ToList();
        // The first attempt's transaction is refused as a deadlock victim would be; the next one goes through.
        var victim = new FailsOnceWriter("INSERT INTO sent_log (sequence, message_id) VALUES (8400, gen_random_uuid())", failInSql: "40P01");

        await using (await HoldCommitsAsync(publisher))
        {
            var publishing = ids.Select(id => publisher.PublishAsync(new ProbeMessage(id, 0), context => context.MessageId = id, CancellationToken.None)).ToList();
            var writing = publisher.WriteAsync(victim, 0, CancellationToken.None);
            await WaitForQueuedAsync(publisher, ids.Count + 1);
            await ReleaseAsync();
            await Task.WhenAll([writing, .. publishing]);
        }

        // Every caller was told "committed" (WhenAll threw 40P01 before the retry), and the writer's row is there once.
        Assert.Equal(1, await Database.ScalarAsync<long>("SELECT count(*) FROM sent_log WHERE sequence = 8400"));
        await host.StopAsync();
    }

    private static DurablePublisher<ProbeDbContext> OneWriter(IHost host) => new(
        host.Services.GetRequiredService<ServiceDataSource<ProbeDbContext>>(),
        host.Services.GetRequiredService<IBus>(),
        host.Services.GetRequiredService<OutboxHandoff>(),
        host.Services.GetRequiredService<OutboxSignal>(),
        host.Services,
        writers: 1);

    /// <summary>
    /// Takes the advisory lock and makes the publisher's only writer wait on it inside a transaction, so whatever is
    /// queued next forms one batch. Disposing releases the lock if the test did not.
    /// </summary>
    private async Task<NpgsqlConnection> HoldCommitsAsync(DurablePublisher<ProbeDbContext> publisher)
    {
        var holder = new NpgsqlConnection(Database.ConnectionString);
        await holder.OpenAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({BlockingLock})", holder))
        {
            await take.ExecuteNonQueryAsync();
        }

        _holder = holder;
        _ = publisher.WriteAsync(new StatementWriter($"DO $$ BEGIN PERFORM pg_advisory_xact_lock({BlockingLock}); END $$"), 0, CancellationToken.None);
        await Eventually.HoldsAsync(
            async () => await Database.ScalarAsync<long>(
                $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {BlockingLock} AND NOT granted") == 1,
            TimeSpan.FromSeconds(30),
            () => "The writer never waited on the lock.");
        return holder;
    }

    private async Task ReleaseAsync()
    {
        await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({BlockingLock})", _holder);
        await release.ExecuteNonQueryAsync();
    }

    private static Task WaitForQueuedAsync(DurablePublisher<ProbeDbContext> publisher, int count) =>
        Eventually.HoldsAsync(() => Task.FromResult(publisher.Queued == count), TimeSpan.FromSeconds(30), () => $"{publisher.Queued} of {count} callers queued.");

    /// <summary>Records the transaction that wrote each outbox message.</summary>
    private Task InstallWriteLogAsync() => ExecuteAsync("""
        CREATE TABLE IF NOT EXISTS publisher_writes (outbox_id uuid, message_id uuid, sequence_number bigint, txid bigint);
        CREATE OR REPLACE FUNCTION log_publisher_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO publisher_writes VALUES (NEW.outbox_id, NEW.message_id, NEW.sequence_number, txid_current()); RETURN NEW; END $$;
        DROP TRIGGER IF EXISTS publisher_writes ON outbox_messages;
        CREATE TRIGGER publisher_writes AFTER INSERT ON outbox_messages FOR EACH ROW EXECUTE FUNCTION log_publisher_write();
        """);

    /// <summary>Records the transaction that deleted each outbox group.</summary>
    private Task InstallDeleteLogAsync() => ExecuteAsync("""
        CREATE TABLE IF NOT EXISTS publisher_deletes (outbox_id uuid, txid bigint);
        CREATE OR REPLACE FUNCTION log_publisher_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO publisher_deletes SELECT outbox_id, txid_current() FROM gone; RETURN NULL; END $$;
        DROP TRIGGER IF EXISTS publisher_deletes ON outbox_state;
        CREATE TRIGGER publisher_deletes AFTER DELETE ON outbox_state REFERENCING OLD TABLE AS gone
            FOR EACH STATEMENT EXECUTE FUNCTION log_publisher_delete();
        TRUNCATE publisher_deletes;
        """);

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<List<(Guid OutboxId, Guid MessageId, long SequenceNumber, long TxId)>> ReadWriteLogAsync(Guid[] ids)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT outbox_id, message_id, sequence_number, txid FROM publisher_writes WHERE message_id = ANY($1)", connection)
        {
            Parameters = { new() { Value = ids } },
        };
        var rows = new List<(Guid, Guid, long, long)>();
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetGuid(0), reader.GetGuid(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        return rows;
    }

    private async Task<List<(Guid MessageId, long SequenceNumber)>> ReadStoredAsync(Guid outboxId)
    {
        await using var connection = new NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var query = new NpgsqlCommand("SELECT message_id, sequence_number FROM outbox_messages WHERE outbox_id = $1 ORDER BY sequence_number", connection)
        {
            Parameters = { new() { Value = outboxId } },
        };
        var stored = new List<(Guid, long)>();
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            stored.Add((reader.GetGuid(0), reader.GetInt64(1)));
        }

        return stored;
    }

    /// <summary>A caller with a statement of its own, and optionally messages published in its group in this order.</summary>
    private sealed class StatementWriter(string statement, IReadOnlyList<Guid>? publishes = null) : IDurableBatchWriter<int, int>
    {
        public async Task<IReadOnlyList<int>> PrepareAsync(IReadOnlyList<int> items, DurableBatch batch, CancellationToken cancellationToken)
        {
            for (var i = 0; i < items.Count; i++)
            {
                batch.Add(new NpgsqlBatchCommand(statement));
                foreach (var id in publishes ?? [])
                {
                    await batch.PublishEndpointFor(i).Publish(new ProbeMessage(id, 0), context => context.MessageId = id, cancellationToken);
                }
            }

            return [.. items];
        }
    }
    /// <summary>
    /// Fails its first batch (in <see cref="PrepareAsync"/> with a timeout, or with <paramref name="failInSql"/>'s SQL
    /// state inside the transaction), then writes <paramref name="statement"/>.
    /// </summary>
    private sealed class FailsOnceWriter(string statement, string? failInSql = null) : IDurableBatchWriter<int, int>
    {
        private int _calls;

        public Task<IReadOnlyList<int>> PrepareAsync(IReadOnlyList<int> items, DurableBatch batch, CancellationToken cancellationToken)
        {
            var first = Interlocked.Increment(ref _calls) == 1;
            if (first && failInSql is null)
            {
                throw new TimeoutException("The lookup timed out.");
            }

            foreach (var _ in items)
            {
                batch.Add(new NpgsqlBatchCommand(first ? $"DO $$ BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '{failInSql}'; END $$" : statement));
            }

            return Task.FromResult<IReadOnlyList<int>>([.. items]);
        }
    }

    /// <summary>Remembers the activity its batch was prepared under.</summary>
    private sealed class CapturingWriter : IDurableBatchWriter<int, int>
    {
        public Activity? Seen { get; private set; }

        public Task<IReadOnlyList<int>> PrepareAsync(IReadOnlyList<int> items, DurableBatch batch, CancellationToken cancellationToken)
        {
            Seen = Activity.Current;
            return Task.FromResult<IReadOnlyList<int>>([.. items]);
        }
    }

    /// <summary>Keeps its item's publish endpoint beyond <see cref="PrepareAsync"/>.</summary>
    private sealed class EscapingWriter : IDurableBatchWriter<int, int>
    {
        public IPublishEndpoint? Escaped { get; private set; }

        public Task<IReadOnlyList<int>> PrepareAsync(IReadOnlyList<int> items, DurableBatch batch, CancellationToken cancellationToken)
        {
            Escaped = batch.PublishEndpointFor(0);
            return Task.FromResult<IReadOnlyList<int>>([.. items]);
        }
    }
}
