using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.DeadLetters.Persistence;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.TestInfrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using RabbitMQ.Client;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>
/// Whoever may publish to the vhost can put anything into an error queue, the replay journal included: what such a
/// message claims is recorded, never followed, and it cannot stop the service.
/// </summary>
[Trait("Tier", "Integration")]
public sealed class UntrustedDeadLetterSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    [Fact]
    public async Task A_forged_input_address_is_recorded_and_never_followed_the_replay_goes_to_the_queue_it_was_captured_from()
    {
        await using var broker = await DeadLetterCrashSpecs.BrokerAsync(infrastructure);
        await DeclareAsync(broker, "ledger-postings", "ledger-postings_error", "payments-outbound");
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var messageId = Guid.NewGuid();
        var forged = $"rabbitmq://localhost/{infrastructure.VirtualHost.Name}/payments-outbound";
        var messageType = $"urn:message:Forged:Posting{Guid.NewGuid():N}";

        await PublishAsync(broker, "ledger-postings_error", messageId.ToString(), new() { ["MT-Fault-InputAddress"] = forged, ["MT-Fault-MessageType"] = messageType });
        var store = infrastructure.Database("DeadLetters");
        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", messageId)) == 1,
            TimeSpan.FromSeconds(30),
            () => "The forged dead letter was not captured.");
        var fingerprint = await store.ScalarAsync<string>("SELECT fingerprint FROM dead_letters WHERE message_id = @id", ("id", messageId));
        using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);

        // Replayed as part of its group, the way an operator who trusts the group would.
        var job = await DeadLetterReplaySpecs.CompletedJobAsync(operatorClient,
            await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { fingerprint, reason = "group fixed" }));

        Assert.Equal(1, job.GetProperty("replayed").GetInt32());
        Assert.True(await RabbitMqQueues.DepthAsync(broker, "payments-outbound") == 0, "The replay followed the forged MT-Fault-InputAddress to payments-outbound.");
        Assert.Equal(1, await RabbitMqQueues.DepthAsync(broker, "ledger-postings"));
        var detail = await operatorClient.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/{messageId}", UriKind.Relative));
        Assert.Equal("ledger-postings", detail.GetProperty("summary").GetProperty("targetQueue").GetString());
        Assert.True(detail.TryGetProperty("inputAddressMismatch", out var mismatch) && mismatch.ValueKind == JsonValueKind.String,
            $"The mismatch between the header and the captured queue is not shown: {detail}");
        Assert.Contains(forged, mismatch.GetString(), StringComparison.Ordinal);
        Assert.Contains("ledger-postings", mismatch.GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dead_letter_stored_by_an_older_version_with_a_forged_target_is_replayed_to_the_queue_it_was_captured_from()
    {
        var home = $"ledger-{Guid.NewGuid():N}";
        var forgedTarget = $"payments-{Guid.NewGuid():N}";
        await using var broker = await DeadLetterCrashSpecs.BrokerAsync(infrastructure);
        await DeclareAsync(broker, home, $"{home}_error", forgedTarget);
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var messageId = Guid.NewGuid();
        await PublishAsync(broker, $"{home}_error", messageId.ToString(), []);
        var store = infrastructure.Database("DeadLetters");
        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", messageId)) == 1,
            TimeSpan.FromSeconds(30),
            () => "The dead letter was not captured.");

        // The row as a version that followed MT-Fault-InputAddress stored it: the forged queue as its target, no mismatch noted.
        await store.ScalarAsync<int>("UPDATE dead_letters SET target_queue = @forged, input_address_mismatch = NULL WHERE message_id = @id",
            ("forged", forgedTarget), ("id", messageId));
        using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterActions.ReplayScope);
        var job = await DeadLetterReplaySpecs.CompletedJobAsync(operatorClient,
            await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { messageIds = new[] { messageId }, reason = "fixed" }));

        Assert.Equal(1, job.GetProperty("replayed").GetInt32());
        Assert.True(await RabbitMqQueues.DepthAsync(broker, forgedTarget) == 0, "The replay followed the target_queue an older version stored from a forged header.");
        Assert.Equal(1, await RabbitMqQueues.DepthAsync(broker, home));
    }

    [Fact]
    public async Task The_upgrade_puts_a_forged_target_stored_by_an_older_version_back_on_the_captured_queue_and_says_so()
    {
        await using var database = await ScratchDatabase.CreateAsync(infrastructure.Settings, "dlupgrade");
        var options = new DbContextOptionsBuilder<DeadLettersDbContext>().UseNpgsql(database.ConnectionString).UseSnakeCaseNamingConvention().Options;
        await using var db = new DeadLettersDbContext(options);
        var migrator = db.GetService<IMigrator>();
        await migrator.MigrateAsync("20261128052509_FailureHistory");
        var (forged, honest) = (Guid.NewGuid(), Guid.NewGuid());
        const string Insert = """
            INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, fingerprint, body, headers, first_failed_at, last_failed_at, failure_count, status)
            VALUES (@id, 'ledger-postings_error', @target, 'fault', 'f', '\x00', @headers::jsonb, now(), now(), 1, 'dead')
            """;
        await database.ScalarAsync<int>(Insert, ("id", forged), ("target", "payments-outbound"),
            ("headers", """{"MT-Fault-InputAddress":"rabbitmq://localhost/payments-outbound"}"""));
        await database.ScalarAsync<int>(Insert, ("id", honest), ("target", "ledger-postings"), ("headers", "{}"));

        await migrator.MigrateAsync();

        Assert.Equal("ledger-postings", await database.ScalarAsync<string>("SELECT target_queue FROM dead_letters WHERE message_id = @id", ("id", forged)));
        var mismatch = await database.ScalarAsync<string>("SELECT input_address_mismatch FROM dead_letters WHERE message_id = @id", ("id", forged));
        Assert.Contains("rabbitmq://localhost/payments-outbound", mismatch, StringComparison.Ordinal);
        Assert.Contains("'payments-outbound', not 'ledger-postings'", mismatch, StringComparison.Ordinal);
        Assert.Null(await database.ScalarAsync<string>("SELECT input_address_mismatch FROM dead_letters WHERE message_id = @id", ("id", honest)));
    }

    [Theory]
    [InlineData("rabbitmq://localhost")]
    [InlineData("rabbitmq://localhost/")]
    public async Task An_input_address_that_names_no_queue_is_captured_once_and_not_requeued_for_ever(string inputAddress)
    {
        var home = $"ledger-{Guid.NewGuid():N}";
        await using var broker = await DeadLetterCrashSpecs.BrokerAsync(infrastructure);
        await DeclareAsync(broker, home, $"{home}_error");
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var messageId = Guid.NewGuid();

        await PublishAsync(broker, $"{home}_error", messageId.ToString(), new() { ["MT-Fault-InputAddress"] = inputAddress });

        var store = infrastructure.Database("DeadLetters");
        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", messageId)) == 1
                && await RabbitMqQueues.DepthAsync(broker, $"{home}_error") == 0,
            TimeSpan.FromSeconds(30),
            () => $"A dead letter whose input address is '{inputAddress}' was not captured (it goes back to {home}_error again and again).");
        Assert.Equal(home, await store.ScalarAsync<string>("SELECT target_queue FROM dead_letters WHERE message_id = @id", ("id", messageId)));
        Assert.Contains(inputAddress, await store.ScalarAsync<string>("SELECT input_address_mismatch FROM dead_letters WHERE message_id = @id", ("id", messageId)),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_journal_message_whose_id_is_not_a_guid_does_not_stop_a_resumed_replay_job_from_settling_what_it_sent()
    {
        var home = $"ledger-{Guid.NewGuid():N}";
        await using var broker = await DeadLetterCrashSpecs.BrokerAsync(infrastructure);
        await DeclareAsync(broker, home, $"{home}_error", DeadLetterReplayer.JournalQueue);
        var sent = Guid.NewGuid();
        await PublishAsync(broker, $"{home}_error", sent.ToString(), []);
        var store = infrastructure.Database("DeadLetters");
        await using (var first = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure))
        {
            using var starter = first.CreateClient();
            await Eventually.HoldsAsync(
                async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", sent)) == 1,
                TimeSpan.FromSeconds(30),
                () => "The dead letter was not captured.");
        }

        // What a replayer killed between the broker's confirm and its commit leaves: a running job, its claim pending
        // under an owner that no longer holds its liveness lock, and the copy in the journal. Behind that copy, a
        // message anyone could have published to the journal.
        var jobId = Guid.NewGuid();
        await store.ScalarAsync<int>(
            """
            WITH job AS (INSERT INTO replay_jobs (id, requested_by, reason, selection, status, created_at) VALUES (@job, 'operator', 'fixed', '1 selected message(s)', 'running', now())),
            item AS (INSERT INTO replay_job_items (job_id, message_id, position) VALUES (@job, @id, 0))
            INSERT INTO replay_ledger (message_id, failure_count, status, requested_by, requested_at, claimed_by, job_id) VALUES (@id, 1, 'pending', 'operator', now(), 424242, @job)
            """,
            ("job", jobId), ("id", sent));
        await PublishAsync(broker, DeadLetterReplayer.JournalQueue, sent.ToString(), []);
        await PublishAsync(broker, DeadLetterReplayer.JournalQueue, "not-a-guid", []);

        await using var restarted = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var operatorClient = DeadLetterCaptureSpecs.Client(restarted, "operator", DeadLetterActions.ReplayScope);
        var job = await DeadLetterReplaySpecs.CompletedJobAsync(operatorClient, new Uri($"/api/v1/dead-letters/replays/{jobId}", UriKind.Relative), () => "");

        Assert.Equal(1, job.GetProperty("replayed").GetInt32());
        Assert.True(await RabbitMqQueues.DepthAsync(broker, home) == 0,
            "The message was replayed a second time: its journal copy, read in the batch that stopped at the foreign message, was never counted.");
        Assert.Equal("confirmed", await store.ScalarAsync<string>("SELECT status FROM replay_ledger WHERE message_id = @id", ("id", sent)));
        // Both read and acknowledged: nothing left ready or held in the journal.
        await Eventually.HoldsAsync(
            async () => JsonDocument.Parse(await infrastructure.VirtualHost.GetQueueJsonAsync(DeadLetterReplayer.JournalQueue)).RootElement
                .TryGetProperty("messages", out var count) && count.GetInt32() == 0,
            TimeSpan.FromSeconds(30),
            () => "The replay journal still holds messages (ready or unacknowledged).");
    }

    private static async Task DeclareAsync(IConnection broker, params string[] queues)
    {
        await using var channel = await broker.CreateChannelAsync();
        foreach (var queue in queues)
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        }
    }

    /// <summary>A message as anyone allowed to publish to the vhost could send it, fault headers and all.</summary>
    private static async Task PublishAsync(IConnection broker, string queue, string messageId, Dictionary<string, string> headers)
    {
        await using var channel = await broker.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        var properties = new BasicProperties
        {
            MessageId = messageId,
            ContentType = "application/vnd.masstransit+json",
            Persistent = true,
            Headers = new Dictionary<string, object?>
            {
                ["MT-Fault-ExceptionType"] = "System.InvalidOperationException",
                ["MT-Fault-Message"] = "forged",
                ["MT-Fault-Timestamp"] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            },
        };
        foreach (var (name, value) in headers)
        {
            properties.Headers[name] = value;
        }

        await channel.BasicPublishAsync("", queue, mandatory: true, properties, Encoding.UTF8.GetBytes("""{"message":{}}"""));
    }
}
