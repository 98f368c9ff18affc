using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.DeadLetters.Persistence;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using RabbitMQ.Client;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>
/// The dead-letter service as a real process, SIGKILLed while it captures and again while it replays a group: after a
/// restart every message is in the store once, and every replay reached the broker — and the consumer — once.
/// </summary>
[Trait("Tier", "EndToEnd")]
public sealed class DeadLetterCrashSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    private const int Messages = 800;
    private const string TargetQueue = "buggy-orders";

    [Fact]
    public async Task Killed_during_capture_and_during_a_group_replay_the_service_loses_nothing_and_duplicates_nothing()
    {
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        var messageIds = Enumerable.Range(0, Messages).Select(_ => NewId.NextGuid()).ToHashSet();
        await Task.WhenAll(messageIds.Select(id => bus.Publish(new OrderPlaced(NewId.NextGuid(), "null-customer"), context => context.MessageId = id)));
        await using var broker = await BrokerAsync(infrastructure);
        await Eventually.HoldsAsync(async () => await RabbitMqQueues.DepthAsync(broker, $"{TargetQueue}_error") == Messages, TimeSpan.FromSeconds(60),
            () => "The failed orders did not all reach the error queue.");
        // The fixed consumer must not take the replays before the broker has been counted.
        await bus.StopAsync();
        var store = infrastructure.Database("DeadLetters");

        // 1. Killed while capturing. One message's row is held by an uncommitted insert of the spec's, so its capture
        // waits on it: the kill lands mid-capture however fast the machine is (under CI load the host once captured
        // all 800 before the kill: "Assert.InRange() Failure" on capturedBeforeKill).
        var options = new DbContextOptionsBuilder<DeadLettersDbContext>().UseNpgsql(store.ConnectionString).UseSnakeCaseNamingConvention().Options;
        await using (var schema = new DeadLettersDbContext(options))
        {
            await schema.Database.MigrateAsync();
        }

        await using var holder = new NpgsqlConnection(store.ConnectionString);
        await holder.OpenAsync();
        await using var held = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("""
            INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, fingerprint, body, headers, first_failed_at, last_failed_at, failure_count, status)
            VALUES (@id, 'held', 'held', 'held', 'held', '\x7b7d', '{}', now(), now(), 1, 'dead')
            """, holder, held))
        {
            hold.Parameters.AddWithValue("id", messageIds.First());
            await hold.ExecuteNonQueryAsync();
        }

        var first = StartDeadLetters(infrastructure);
        await first.WaitUntilReadyAsync(HostProcess.StartTimeout);
        await Eventually.HoldsAsync(async () => await CapturedAsync(store) > 0, TimeSpan.FromSeconds(60), () => $"Nothing was captured.\n{first.Logs}");
        await first.KillAsync();
        var capturedBeforeKill = await CapturedAsync(store);
        await held.RollbackAsync();
        await using (var second = StartDeadLetters(infrastructure))
        {
            await Eventually.HoldsAsync(async () => await CapturedAsync(store) == Messages && await RabbitMqQueues.DepthAsync(broker, $"{TargetQueue}_error") == 0,
                TimeSpan.FromSeconds(60), () => $"Capture did not finish after the restart.\n{second.Logs}");
        }

        Assert.InRange(capturedBeforeKill, 1, Messages - 1);
        Assert.Equal(Messages, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids)", ("ids", messageIds.ToArray())));
        // A message captured, killed before its ack and captured again is the same failure: it must not count twice.
        Assert.Equal(0, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE failure_count <> 1"));

        // 2. Killed while replaying the group.
        var fingerprint = await store.ScalarAsync<string>("SELECT fingerprint FROM dead_letters LIMIT 1");
        var third = StartDeadLetters(infrastructure);
        await third.WaitUntilReadyAsync(HostProcess.StartTimeout);
        using var replayer = Operator(third);
        using var accepted = await replayer.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { fingerprint, reason = "bug fixed" });
        var location = accepted.Headers.Location!;
        await Eventually.HoldsAsync(async () => (await replayer.GetFromJsonAsync<JsonElement>(location)).GetProperty("replayed").GetInt32() >= 50,
            TimeSpan.FromSeconds(60), () => $"The group replay did not start.\n{third.Logs}");
        await third.KillAsync();
        var sentBeforeKill = await RabbitMqQueues.DepthAsync(broker, TargetQueue);
        await using (var fourth = StartDeadLetters(infrastructure))
        {
            await fourth.WaitUntilReadyAsync(HostProcess.StartTimeout);
            using var resumed = Operator(fourth);
            // Resumed on start, without being asked again.
            var job = await DeadLetterReplaySpecs.CompletedJobAsync(resumed, location, () => fourth.Logs);
            Assert.Equal(Messages, job.GetProperty("total").GetInt32());
            Assert.Equal(Messages, job.GetProperty("replayed").GetInt32());
        }

        Assert.InRange(sentBeforeKill, 50, Messages - 1);
        // At the broker: each message once, and only on the queue of the consumer that failed it.
        Assert.Equal(Messages, await RabbitMqQueues.DepthAsync(broker, TargetQueue));
        Assert.Equal(0, await RabbitMqQueues.DepthAsync(broker, "order-audit"));
        Assert.Equal(Messages, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger WHERE status = 'confirmed'"));
        Assert.Equal(0, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE status <> 'replayed'"));

        // At the consumer: each message once.
        service.BugFixed = true;
        var auditedOriginals = service.Audited.Count;
        bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        try
        {
            await Eventually.HoldsAsync(() => Task.FromResult(service.Processed.Count >= Messages), TimeSpan.FromSeconds(60),
                () => $"Only {service.Processed.Count} replays were consumed.");
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Equal(Messages, service.Processed.Count);
            Assert.True(messageIds.SetEquals(service.Processed.Select(x => x.MessageId)));
            // The other subscriber saw each original once and no replay.
            Assert.Equal(auditedOriginals, service.Audited.Count);
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    internal static HostProcess StartDeadLetters(DeadLetterInfrastructure infrastructure)
    {
        var settings = new Dictionary<string, string>(infrastructure.HostSettings())
        {
            ["Backbone:RabbitMq:ManagementUrl"] = infrastructure.Settings.RabbitManagementUrl.ToString(),
            ["Backbone:DeadLetters:DiscoveryInterval"] = "00:00:00.500",
            ["Backbone:Auth:SigningKeys:0"] = DeadLetterCaptureSpecs.SigningKey,
        };
        return HostProcess.Start("DeadLetters", settings);
    }

    private static HttpClient Operator(HostProcess host)
    {
        var client = new HttpClient { BaseAddress = host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Bearer", DeadLetterCaptureSpecs.Token("operator", DeadLetterApi.ReadScope, Replay.DeadLetterActions.ReplayScope));
        return client;
    }

    private static Task<long> CapturedAsync(ScratchDatabase store) => store.ScalarAsync<long>("SELECT count(*) FROM dead_letters");

    internal static async Task<IConnection> BrokerAsync(DeadLetterInfrastructure infrastructure)
    {
        var settings = infrastructure.Settings;
        return await new ConnectionFactory
        {
            HostName = settings.RabbitHost,
            Port = settings.RabbitPort,
            VirtualHost = infrastructure.VirtualHost.Name,
            UserName = settings.RabbitUsername,
            Password = settings.RabbitPassword,
        }.CreateConnectionAsync();
    }
}
