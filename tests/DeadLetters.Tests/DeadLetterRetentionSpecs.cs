using System.Diagnostics.Metrics;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.Messaging.Retention;
using EventBackbone.TestInfrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>
/// The audit, the replay ledger and replay jobs are deleted past their retention, in bounded batches and counted, and
/// the ledger never while its dead letter can still be replayed: that entry is what stops a second replay.
/// </summary>
[Trait("Tier", "Integration")]
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
        // The pending claim belongs to a live replayer (this connection holds its liveness lock): retention leaves
        // pending claims to in-doubt resolution, which releases only a dead owner's.
        var liveOwner = Random.Shared.Next(1, int.MaxValue);
        await using var owner = new NpgsqlConnection(infrastructure.Database("DeadLetters").ConnectionString);
        await owner.OpenAsync();
        await using (var alive = new NpgsqlCommand($"SELECT pg_advisory_lock({DeadLetterReplayer.LivenessLockClass}, {liveOwner})", owner))
        {
            await alive.ExecuteScalarAsync();
        }

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
                ('{{gone}}', 1, 'pending', 'op', now() - interval '91 days', {{liveOwner}}),
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

        // The host's in-doubt resolution may run at any moment (a claim owned by "0", a dead owner, was released by it
        // under CI load: "Expected 3 Actual 2"); running it here makes that certain instead of a race.
        await app.Services.GetRequiredService<DeadLetterReplayer>().ResolveInDoubtAsync(CancellationToken.None);

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

    [Fact]
    public async Task An_archived_dead_letter_that_fails_again_while_retention_deletes_it_is_kept()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        // The service's own rule with a 1-day age, run by a retention of the test's: the row (archived 2 days ago) is
        // expired for it but not for the host's own run (30 days), which therefore cannot delete it before the lock.
        var service = app.Services.GetRequiredService<TableRetention>();
        var rule = service.Rules.Single(x => x.Table == "dead_letters") with { Age = TimeSpan.FromDays(1) };
        await using var dataSource = NpgsqlDataSource.Create(infrastructure.Database("DeadLetters").ConnectionString);
        using var retention = new TableRetention(
            dataSource, [rule], new RetentionSettings(TimeSpan.FromHours(1), BatchSize), app.Services.GetRequiredService<RetentionMetrics>(),
            TimeProvider.System, NullLogger<TableRetention>.Instance);
        var failedAgain = Guid.NewGuid();
        await ExecuteAsync($$"""
            INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, fingerprint, body, headers, first_failed_at, last_failed_at, failure_count, status)
            VALUES ('{{failedAgain}}', 'q_error', 'q', 'fault', 'f', '\x7b7d', '{}', now() - interval '3 days', now() - interval '2 days', 1, 'archived');
            """);

        // The same message fails again (capture's upsert makes it 'dead', just failed) in a transaction that holds
        // the row while retention's DELETE has already chosen it from the snapshot it started with.
        await using var capture = new NpgsqlConnection(infrastructure.Database("DeadLetters").ConnectionString);
        await capture.OpenAsync();
        await using var transaction = await capture.BeginTransactionAsync();
        await using (var update = new NpgsqlCommand(
            "UPDATE dead_letters SET status = 'dead', last_failed_at = now(), failure_count = failure_count + 1 WHERE message_id = @id", capture, transaction))
        {
            update.Parameters.AddWithValue("id", failedAgain);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        var run = retention.RunOnceAsync(CancellationToken.None);
        await WaitUntilADeleteWaitsForALockAsync(run);
        await transaction.CommitAsync();
        await run.WaitAsync(TimeSpan.FromMinutes(2));

        var store = infrastructure.Database("DeadLetters");
        Assert.Equal("dead", await store.ScalarAsync<string>("SELECT status FROM dead_letters WHERE message_id = @id", ("id", failedAgain)));
        Assert.Equal(0, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'expire' AND message_id = @id", ("id", failedAgain)));
    }

    /// <summary>Until a DELETE FROM dead_letters in this database waits on a row lock (bounded: a slow machine only waits longer).</summary>
    private async Task WaitUntilADeleteWaitsForALockAsync(Task run)
    {
        var store = infrastructure.Database("DeadLetters");
        for (var deadline = DateTime.UtcNow.AddMinutes(2); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            Assert.False(run.IsCompleted, "retention finished without waiting for the locked row");
            if (await store.ScalarAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%DELETE FROM dead_letters%'") > 0)
            {
                return;
            }
        }

        Assert.Fail("retention's DELETE never waited for the locked row");
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("DeadLetters").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
