using System.Diagnostics;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>
/// The bus outbox written with plain SQL (the webhook edge's hot path): the caller's statements and the messages
/// commit in one transaction, the rows are the ones the EF Core outbox writes, and delivery treats them alike.
/// </summary>
public sealed class SqlOutboxSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>, IDisposable
{
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

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Messages_commit_with_the_caller_s_statement_and_arrive_from_memory_with_their_envelope()
    {
        ActivitySource.AddActivityListener(_listener);
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        var ids = Enumerable.Range(300, 20).Select(ProbeDbContext.IdFor).ToList();
        var correlationId = NewId.NextGuid();

        string traceId;
        using (var request = TestSource.StartActivity("http request"))
        {
            traceId = request!.TraceId.ToString();
            var batch = host.Services.GetRequiredService<SqlOutbox<ProbeDbContext>>().CreateBatch();
            batch.Add(RecordSent(300, ids[0]));
            for (var i = 0; i < ids.Count; i++)
            {
                var id = ids[i];
                await batch.PublishEndpoint.Publish(new ProbeMessage(id, 300 + i), context =>
                {
                    context.MessageId = id;
                    context.CorrelationId = correlationId;
                    context.Headers.Set("X-Backbone-Test", "kept");
                });
            }

            await batch.CommitAsync(CancellationToken.None);
        }

        Assert.Equal(1, await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM sent_log WHERE sequence = 300"));
        // Only the hand-off can deliver within this time: the lease is a minute and the claim polls every five.
        await Eventually.HoldsAsync(
            () => Task.FromResult(ids.All(received.Envelopes.ContainsKey)),
            TimeSpan.FromSeconds(20),
            () => $"{ids.Count(received.Envelopes.ContainsKey)} of {ids.Count} messages arrived.");
        Assert.All(ids, id =>
        {
            Assert.Equal(1, received.ByMessageId[id]);
            Assert.Equal(new ReceivedEnvelope(correlationId, received.Envelopes[id].ConversationId, "kept", traceId), received.Envelopes[id]);
        });
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Probe").ScalarAsync<long>(
                "SELECT count(*) FROM outbox_messages WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())) == 0,
            TimeSpan.FromSeconds(10),
            () => "The delivered messages were not deleted.");
        await host.StopAsync();
    }

    [Fact]
    public async Task A_batch_is_handed_off_as_one_group_leased_to_the_lane_in_publish_order_with_the_stored_sequence_numbers()
    {
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: SlowClaims);
        // A lane of the test's own, so the group stays observable instead of being sent and deleted.
        var handoff = new OutboxHandoff();
        var lockId = Guid.NewGuid();
        var lane = handoff.Open(typeof(ProbeDbContext), lockId, TimeSpan.FromMinutes(1), capacity: 10);
        var outbox = new SqlOutbox<ProbeDbContext>(
            host.Services.GetRequiredService<ServiceDataSource<ProbeDbContext>>(),
            host.Services.GetRequiredService<IBus>(),
            handoff,
            host.Services.GetRequiredService<OutboxSignal>(),
            host.Services);
        // Ids in descending order, so an order by id could not pass for publish order.
        var ids = Enumerable.Range(500, 30).Reverse().Select(ProbeDbContext.IdFor).ToList();
        var batch = outbox.CreateBatch();
        foreach (var id in ids)
        {
            await batch.PublishEndpoint.Publish(new ProbeMessage(id, 0), context => context.MessageId = id);
        }

        await batch.CommitAsync(CancellationToken.None);

        Assert.True(lane.TryRead(out var group), "The committed group was not handed off.");
        Assert.Equal(lockId, group.LockId);
        Assert.Equal(ids, group.Messages.Select(x => x.MessageId));
        var stored = await ReadStoredAsync(group.OutboxId);
        Assert.Equal(ids, stored.Select(x => x.MessageId));
        Assert.Equal(stored.Select(x => x.SequenceNumber), group.Messages.Select(x => x.SequenceNumber));
        Assert.Equal(lockId, await infrastructure.Database("Probe").ScalarAsync<Guid>(
            "SELECT lock_id FROM outbox_state WHERE outbox_id = @id", ("id", group.OutboxId)));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_batch_with_nothing_to_write_commits_without_error_and_writes_no_group()
    {
        // What a group commit of nothing but repeats of accepted webhooks leaves: no receipt, no message.
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);

        await host.Services.GetRequiredService<SqlOutbox<ProbeDbContext>>().CreateBatch().CommitAsync(CancellationToken.None);

        Assert.Equal(0, await infrastructure.Database("Probe").ScalarAsync<long>(
            "SELECT count(*) FROM outbox_state s WHERE NOT EXISTS (SELECT 1 FROM outbox_messages m WHERE m.outbox_id = s.outbox_id)"));
        await host.StopAsync();
    }

    private static NpgsqlBatchCommand RecordSent(int sequence, Guid messageId) =>
        new("INSERT INTO sent_log (sequence, message_id) VALUES ($1, $2)") { Parameters = { new() { Value = sequence }, new() { Value = messageId } } };

    private async Task<List<(Guid MessageId, long SequenceNumber)>> ReadStoredAsync(Guid outboxId)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("Probe").ConnectionString);
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
}
