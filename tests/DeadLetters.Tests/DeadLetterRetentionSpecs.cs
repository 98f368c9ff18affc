using System.Diagnostics.Metrics;
using EventBackbone.Messaging.Retention;
using EventBackbone.TestInfrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>
/// The audit, the replay ledger and replay jobs are deleted past their retention, in bounded batches and counted, and
/// the ledger never while its dead letter can still be replayed: that entry is what stops a second replay.
/// </summary>
public sealed class DeadLetterRetentionSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    private const int BatchSize = 50;
    private const int Old = 120;

    [Fact]
    public async Task Audit_ledger_and_finished_jobs_past_their_retention_are_deleted_in_bounded_batches_and_counted_and_the_rest_kept()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure).WithWebHostBuilder(builder =>
            builder.UseSetting("Backbone:Retention:BatchSize", BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var deleted = new CounterRecorder(RetentionMetrics.MeterName, app.Services.GetRequiredService<IMeterFactory>());
        using var starter = app.CreateClient();
        var (gone, stillDead, finished, running, recent) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        // Defaults: audit 400 days, ledger and jobs 90 days.
        await ExecuteAsync($$"""
            INSERT INTO dead_letter_audit (at, actor, action, detail)
            SELECT now() - interval '401 days', 'retention-spec', 'read-body', 'old' FROM generate_series(1, {{Old}});
            INSERT INTO dead_letter_audit (at, actor, action, detail) VALUES (now() - interval '399 days', 'retention-spec', 'read-body', 'young');

            INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, fingerprint, body, headers, first_failed_at, last_failed_at, failure_count, status)
            VALUES ('{{stillDead}}', 'q_error', 'q', 'fault', 'f', '\x7b7d', '{}', now() - interval '200 days', now() - interval '200 days', 1, 'replayed');
            INSERT INTO replay_ledger (message_id, failure_count, status, requested_by, requested_at, claimed_by)
            SELECT gen_random_uuid(), 1, 'confirmed', 'op', now() - interval '91 days', 0 FROM generate_series(1, {{Old}});
            INSERT INTO replay_ledger (message_id, failure_count, status, requested_by, requested_at, claimed_by) VALUES
                ('{{gone}}', 1, 'pending', 'op', now() - interval '91 days', 0),
                ('{{stillDead}}', 1, 'confirmed', 'op', now() - interval '200 days', 0),
                ('{{recent}}', 1, 'confirmed', 'op', now() - interval '89 days', 0);

            INSERT INTO replay_jobs (id, requested_by, selection, status, created_at, finished_at) VALUES
                ('{{finished}}', 'op', '{}', 'completed', now() - interval '92 days', now() - interval '91 days'),
                ('{{running}}', 'op', '{}', 'running', now() - interval '92 days', NULL),
                ('{{recent}}', 'op', '{}', 'completed', now() - interval '90 days', now() - interval '89 days');
            INSERT INTO replay_job_items (job_id, message_id, position, outcome)
            SELECT '{{finished}}', gen_random_uuid(), n, 'replayed' FROM generate_series(1, {{Old}}) n;
            INSERT INTO replay_job_items (job_id, message_id, position, outcome)
            SELECT job, gen_random_uuid(), 1, NULL FROM unnest(ARRAY['{{running}}', '{{recent}}']::uuid[]) job;
            """);

        // The run at start may have begun too; runs take turns, and whichever sees the old rows deletes them.
        await app.Services.GetRequiredService<TableRetention>().RunOnceAsync(CancellationToken.None);

        var store = infrastructure.Database("DeadLetters");
        Assert.Equal("young", await store.ScalarAsync<string>("SELECT string_agg(detail, ',') FROM dead_letter_audit WHERE actor = 'retention-spec'"));
        // Kept: the pending claim (in-doubt resolution's), the one whose dead letter still exists, and the young one.
        Assert.Equal(3, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger"));
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger WHERE message_id = @id", ("id", stillDead)));
        Assert.Equal(2, await store.ScalarAsync<long>("SELECT count(*) FROM replay_jobs WHERE id IN (@running, @recent)", ("running", running), ("recent", recent)));
        Assert.Equal(0, await store.ScalarAsync<long>("SELECT count(*) FROM replay_jobs WHERE id = @id", ("id", finished)));
        Assert.Equal(2, await store.ScalarAsync<long>("SELECT count(*) FROM replay_job_items"));
        foreach (var (table, rows) in new[] { ("dead_letter_audit", Old), ("replay_ledger", Old), ("replay_job_items", Old), ("replay_jobs", 1) })
        {
            var batches = deleted.Values("backbone.retention.deleted", "table", table);
            Assert.Equal(rows, batches.Sum());
            Assert.All(batches, count => Assert.InRange(count, 1, BatchSize));
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("DeadLetters").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
