using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class InboxCleanupSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>
{
    // The service's own timers are set far out so the test drives cleanup itself, deterministically.
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Backbone:Messaging:DuplicateDetectionWindow"] = "00:10:00",
        ["Backbone:Messaging:CleanupInterval"] = "10:00:00",
        ["Backbone:Messaging:CleanupBatchSize"] = "50",
        ["Backbone:Messaging:OrphanAfter"] = "00:05:00",
    };

    [Fact]
    public async Task Inbox_rows_older_than_the_window_are_removed_in_bounded_batches_and_newer_ones_kept()
    {
        var measurements = new ConcurrentDictionary<string, long>();
        using var listener = ListenTo(measurements);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: Settings);
        var consumer = NewId.NextGuid();
        await ExecuteAsync($"""
            INSERT INTO inbox_state (message_id, consumer_id, received, receive_count, consumed, delivered)
            SELECT gen_random_uuid(), '{consumer}', now() - interval '1 hour', 1, now() - interval '1 hour', now() - interval '1 hour'
            FROM generate_series(1, 120);
            INSERT INTO inbox_state (message_id, consumer_id, received, receive_count, consumed, delivered)
            SELECT gen_random_uuid(), '{consumer}', now(), 1, now(), now() FROM generate_series(1, 5);
            """);

        var removed = await Cleanup(host).RemoveExpiredAsync(CancellationToken.None);

        // At least ours: another spec of this class may have left old rows too.
        Assert.True(removed >= 120, $"Removed {removed}.");
        Assert.Equal(5, await infrastructure.Database("Probe").ScalarAsync<long>(
            "SELECT count(*) FROM inbox_state WHERE consumer_id = @consumer", ("consumer", consumer)));
        listener.RecordObservableInstruments();
        Assert.Equal(removed, measurements.GetValueOrDefault("backbone.inbox.cleaned"));
        await host.StopAsync();
    }

    [Fact]
    public async Task Messages_a_consumer_committed_but_never_delivered_are_handed_to_the_outbox_and_delivered()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: Settings);
        var id = ProbeDbContext.IdFor(42);
        await using (var scope = host.Services.CreateAsyncScope())
        {
            // A real serialized message, parked an hour out so that nothing delivers it meanwhile...
            var scheduler = scope.ServiceProvider.GetRequiredService<IMessageScheduler>();
            await scheduler.ScheduleSend(new Uri("queue:probe-recording"), DateTime.UtcNow.AddHours(1), new ProbeMessage(id, 42),
                Pipe.Execute<SendContext>(x => x.MessageId = id));
            await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SaveChangesAsync();
        }

        // ...then turned into what a crash leaves behind: consumed and committed long ago, its message never sent, and
        // its broker message already acknowledged, so no redelivery will ever send it.
        var inboxMessageId = NewId.NextGuid();
        await ExecuteAsync($"""
            UPDATE outbox_messages SET outbox_id = NULL, inbox_message_id = '{inboxMessageId}', inbox_consumer_id = '{inboxMessageId}';
            DELETE FROM outbox_state;
            INSERT INTO inbox_state (message_id, consumer_id, received, receive_count, consumed, delivered)
            VALUES ('{inboxMessageId}', '{inboxMessageId}', now() - interval '1 hour', 1, now() - interval '1 hour', NULL);
            """);

        var adopted = await Cleanup(host).AdoptOrphansAsync(CancellationToken.None);

        Assert.Equal(1, adopted);
        await Eventually.HoldsAsync(
            () => Task.FromResult(received.ByMessageId.ContainsKey(id)),
            TimeSpan.FromSeconds(30),
            () => "The orphaned message was never delivered.");
        Assert.NotNull(await infrastructure.Database("Probe").ScalarAsync<DateTime?>(
            "SELECT delivered FROM inbox_state WHERE message_id = @id", ("id", inboxMessageId)));
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM outbox_messages") == 0,
            TimeSpan.FromSeconds(10),
            () => "The delivered orphan was not removed from the outbox.");
        await host.StopAsync();
    }

    private static InboxCleanupService<ProbeDbContext> Cleanup(IHost host) =>
        host.Services.GetServices<IHostedService>().OfType<InboxCleanupService<ProbeDbContext>>().Single();

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("Probe").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static MeterListener ListenTo(ConcurrentDictionary<string, long> measurements)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MessagingMetrics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            measurements.AddOrUpdate(instrument.Name, value, (_, total) => total + value));
        listener.Start();
        return listener;
    }
}
