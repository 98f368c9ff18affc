extern alias IngestionApi;
using System.Diagnostics.Metrics;
using EventBackbone.Messaging.Retention;
using EventBackbone.TestInfrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Integration.Tests;

/// <summary>
/// Receipts hold whole webhook bodies and commands, often personal data: past their retention they are deleted, in
/// bounded batches, and counted.
/// </summary>
public sealed class IngestionRetentionSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private const int BatchSize = 50;
    private const int Old = 120;
    private const int Young = 5;

    [Fact]
    public async Task Receipts_and_body_digests_past_their_retention_are_deleted_in_bounded_batches_and_counted_and_younger_ones_and_those_still_in_the_outbox_kept()
    {
        await using var api = IngestionApiHost.Start(infrastructure.HostSettings()).WithWebHostBuilder(builder =>
            builder.UseSetting("Backbone:Retention:BatchSize", BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var deleted = new CounterRecorder(RetentionMetrics.MeterName, api.Services.GetRequiredService<IMeterFactory>());
        using var client = api.CreateClient();
        // An old receipt whose event has not left the outbox yet (a broker outage longer than the retention; its retry
        // not due during the test): the receipt is the only record of what was accepted until then.
        var undelivered = Guid.NewGuid();
        // Defaults: receipts and command receipts 7 days, body digests the 3-day duplicate window.
        await ExecuteAsync($"""
            INSERT INTO webhook_receipts (event_id, source, content_type, body, received_at)
            VALUES ('{undelivered}', 'github', 'application/json', '\x7b7d', now() - interval '8 days');
            INSERT INTO outbox_state (outbox_id, created, not_before, attempts, last_error)
            VALUES ('{undelivered}', now() - interval '8 days', now() + interval '1 day', 500, 'broker unreachable');
            INSERT INTO outbox_messages (outbox_id, message_id, content_type, message_type, body, sent_time)
            VALUES ('{undelivered}', '{undelivered}', 'application/json', 'urn:message:x', '', now() - interval '8 days');
            INSERT INTO webhook_receipts (event_id, source, content_type, body, received_at)
            SELECT gen_random_uuid(), 'github', 'application/json', '\x7b7d', now() - interval '8 days' FROM generate_series(1, {Old});
            INSERT INTO webhook_receipts (event_id, source, content_type, body, received_at)
            SELECT gen_random_uuid(), 'github', 'application/json', '\x7b7d', now() - interval '6 days' FROM generate_series(1, {Young});
            INSERT INTO webhook_body_digests (source, body_sha256, event_id, received_at)
            SELECT 'github', sha256(int4send(n)), gen_random_uuid(), now() - interval '4 days' FROM generate_series(1, {Old}) n;
            INSERT INTO webhook_body_digests (source, body_sha256, event_id, received_at)
            SELECT 'github', sha256(int4send(-n)), gen_random_uuid(), now() - interval '2 days' FROM generate_series(1, {Young}) n;
            INSERT INTO command_receipts (command_id, name, caller, request_hash, location, accepted_at)
            SELECT gen_random_uuid(), 'request-signup', 'someone', '\x00', '/', now() - interval '8 days' FROM generate_series(1, {Old});
            INSERT INTO command_receipts (command_id, name, caller, request_hash, location, accepted_at)
            SELECT gen_random_uuid(), 'request-signup', 'someone', '\x00', '/', now() - interval '6 days' FROM generate_series(1, {Young});
            """);

        // The run at start may have begun too; runs take turns, and whichever sees the old rows deletes them.
        await api.Services.GetRequiredService<TableRetention>().RunOnceAsync(CancellationToken.None);

        var store = infrastructure.Database("Ingestion");
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM webhook_receipts WHERE event_id = @id", ("id", undelivered)));
        foreach (var (table, kept) in new[] { ("webhook_receipts", Young + 1), ("webhook_body_digests", Young), ("command_receipts", Young) })
        {
            Assert.Equal(kept, await store.ScalarAsync<long>($"SELECT count(*) FROM {table}"));
            var batches = deleted.Values("backbone.retention.deleted", "table", table);
            Assert.Equal(Old, batches.Sum());
            Assert.All(batches, rows => Assert.InRange(rows, 1, BatchSize));
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("Ingestion").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
