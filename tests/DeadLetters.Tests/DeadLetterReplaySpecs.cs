using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.AspNetCore.Hosting;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>Replay after the bug is fixed: exactly once, to the consumer that failed only, whoever asks and how often.</summary>
[Trait("Tier", "Integration")]
public sealed class DeadLetterReplaySpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    [Fact]
    public async Task A_fixed_group_is_replayed_once_to_the_failed_consumer_only_and_concurrent_replays_send_once()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        try
        {
            var messageIds = Enumerable.Range(0, 4).Select(_ => NewId.NextGuid()).ToList();
            foreach (var messageId in messageIds)
            {
                await bus.Publish(new OrderPlaced(NewId.NextGuid(), "null-customer"), context => context.MessageId = messageId);
            }

            var store = infrastructure.Database("DeadLetters");
            await Eventually.HoldsAsync(
                async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids)", ("ids", messageIds.ToArray())) == 4,
                TimeSpan.FromSeconds(30),
                () => "The failed orders were not captured.");
            await Eventually.HoldsAsync(() => Task.FromResult(service.Audited.Count == 4), TimeSpan.FromSeconds(10), () => "The audit subscriber missed originals.");
            var fingerprint = await store.ScalarAsync<string>("SELECT fingerprint FROM dead_letters WHERE message_id = @id", ("id", messageIds[0]));
            service.BugFixed = true;
            using var replayer = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterActions.ReplayScope);

            // The group minus one, then that one by ten operators at once.
            var single = messageIds[^1];
            var group = await replayer.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative),
                new { messageIds = messageIds.Take(3).ToArray(), reason = "bug fixed" });
            var concurrent = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
                replayer.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{single}/replay", UriKind.Relative), new { reason = "bug fixed" })));
            var job = await CompletedJobAsync(replayer, group);
            var again = await replayer.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { fingerprint, reason = "twice" });

            Assert.Equal(3, job.GetProperty("total").GetInt32());
            Assert.Equal(3, job.GetProperty("replayed").GetInt32());
            var outcomes = await Task.WhenAll(concurrent.Select(async r => (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outcome").GetString()));
            Assert.Equal(1, outcomes.Count(x => x == "replayed"));
            Assert.Equal(9, outcomes.Count(x => x == "already-replayed"));
            // A replayed group is no longer "dead": asking for it again sends nothing.
            Assert.Equal(HttpStatusCode.UnprocessableEntity, again.StatusCode);
            // Nor does a filter that finds them, and an empty filter is refused rather than read as "everything".
            using var byFilter = await replayer.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative),
                new { filter = new { queue = "buggy-orders_error" }, reason = "filter" });
            using var emptyFilter = await replayer.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { filter = new { }, reason = "all" });
            Assert.Equal(HttpStatusCode.UnprocessableEntity, byFilter.StatusCode);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, emptyFilter.StatusCode);
            await Eventually.HoldsAsync(() => Task.FromResult(service.Processed.Count >= 4), TimeSpan.FromSeconds(15), () => $"Only {service.Processed.Count} replays arrived.");
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Equal(messageIds.Order(), service.Processed.Select(x => x.MessageId).Order());
            Assert.DoesNotContain(service.Processed, x => x.HasFaultHeaders);
            Assert.Equal(4, service.Audited.Count);
            Assert.Equal(4, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger WHERE status = 'confirmed' AND message_id = ANY(@ids)", ("ids", messageIds.ToArray())));
            Assert.Equal(4, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'replay' AND actor = 'operator' AND message_id = ANY(@ids)", ("ids", messageIds.ToArray())));
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    /// <summary>Follows a replay job's Location until it has run every message (completed, or failed when some replay failed).</summary>
    internal static async Task<JsonElement> CompletedJobAsync(HttpClient client, HttpResponseMessage accepted)
    {
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
        return await CompletedJobAsync(client, accepted.Headers.Location ?? throw new InvalidOperationException("A replay job has a Location."), () => "");
    }

    /// <param name="explain">More to show when the job does not complete within 60 s (e.g. the service's logs).</param>
    internal static async Task<JsonElement> CompletedJobAsync(HttpClient client, Uri location, Func<string> explain)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var job = await client.GetFromJsonAsync<JsonElement>(location);
            if (job.GetProperty("status").GetString() is "completed" or "failed")
            {
                return job;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The replay job did not complete: {job}\n{explain()}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_message_that_fails_again_after_its_replay_keeps_one_record_with_its_history_and_can_be_replayed_again()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        try
        {
            var messageId = NewId.NextGuid();
            await bus.Publish(new OrderPlaced(NewId.NextGuid(), "null-customer"), context => context.MessageId = messageId);
            var store = infrastructure.Database("DeadLetters");
            Task<int> FailuresAsync() => store.ScalarAsync<int>("SELECT failure_count FROM dead_letters WHERE message_id = @id AND status = 'dead'", ("id", messageId));
            await Eventually.HoldsAsync(async () => await FailuresAsync() == 1, TimeSpan.FromSeconds(30), () => "The failed order was not captured.");
            using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);
            var replay = new Uri($"/api/v1/dead-letters/{messageId}/replay", UriKind.Relative);

            // Replayed too early: the bug is still there, so it fails again — the same record, a second failure.
            Assert.Equal("replayed", await OutcomeAsync(operatorClient, replay));
            await Eventually.HoldsAsync(async () => await FailuresAsync() == 2, TimeSpan.FromSeconds(30), () => "The second failure did not update the record.");
            Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", messageId)));
            var detail = await operatorClient.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/{messageId}", UriKind.Relative));
            Assert.Equal(2, detail.GetProperty("failures").GetArrayLength());
            var first = Assert.Single(detail.GetProperty("replays").EnumerateArray());
            Assert.Equal("confirmed", first.GetProperty("status").GetString());
            Assert.Equal(1, first.GetProperty("failureCount").GetInt32());

            // Fixed now: the new failure can be replayed (once), and it goes through.
            service.BugFixed = true;
            Assert.Equal("replayed", await OutcomeAsync(operatorClient, replay));
            Assert.Equal("already-replayed", await OutcomeAsync(operatorClient, replay));
            await Eventually.HoldsAsync(() => Task.FromResult(service.Processed.Count == 1), TimeSpan.FromSeconds(15), () => "The second replay never arrived.");
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Equal(messageId, Assert.Single(service.Processed).MessageId);
            Assert.Equal(2, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger WHERE message_id = @id AND status = 'confirmed'", ("id", messageId)));
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    /// <summary>
    /// The broker cannot be reached (here: nothing listens on its port). A single replay is refused with its claim
    /// released — a claim left pending by a live process made the message "already replayed" for ever, though it was
    /// never sent — and a replay job fails, so the operator sees it and resumes it, instead of showing "running, 0 %"
    /// for as long as the outage lasts.
    /// </summary>
    [Fact]
    public async Task Without_a_broker_a_replay_is_refused_with_its_claim_released_and_a_replay_job_fails_rather_than_waiting()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure).WithWebHostBuilder(builder =>
            builder.UseSetting("Backbone:RabbitMq:Port", ClosedPort().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);
        var store = infrastructure.Database("DeadLetters");
        var (single, inJob) = (NewId.NextGuid(), NewId.NextGuid());
        foreach (var id in new[] { single, inJob })
        {
            await store.ScalarAsync<int>(
                """
                INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, fingerprint, body, headers, first_failed_at, last_failed_at, failure_count, status)
                VALUES (@id, 'unreachable_error', 'unreachable', 'fault', 'unreachable', '\x7b7d', '{}', now(), now(), 1, 'dead')
                """,
                ("id", id));
        }

        using var refused = await operatorClient.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{single}/replay", UriKind.Relative), new { reason = "broker away" });
        Assert.True(refused.StatusCode == HttpStatusCode.BadGateway, $"{(int)refused.StatusCode} {await refused.Content.ReadAsStringAsync()}");
        Assert.Equal(0, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger WHERE message_id = @id", ("id", single)));
        Assert.Equal(1, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'replay-failed' AND message_id = @id", ("id", single)));

        var job = await CompletedJobAsync(operatorClient, await operatorClient.PostAsJsonAsync(
            new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { messageIds = new[] { inJob }, reason = "broker away" }));
        Assert.Equal("failed", job.GetProperty("status").GetString());
        Assert.Equal(0, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger WHERE message_id = @id", ("id", inJob)));
        Assert.Equal("dead", await store.ScalarAsync<string>("SELECT status FROM dead_letters WHERE message_id = @id", ("id", inJob)));
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string?> OutcomeAsync(HttpClient client, Uri replay)
    {
        using var response = await client.PostAsJsonAsync(replay, new { reason = "retry" });
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("outcome").GetString();
    }

    [Fact]
    public async Task An_edited_message_goes_out_as_a_new_message_linked_to_the_original_and_an_invalid_edit_is_refused()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure, editAndReplay: true);
        using var starter = app.CreateClient();
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        try
        {
            var original = NewId.NextGuid();
            var orderId = NewId.NextGuid();
            await bus.Publish(new OrderPlaced(orderId, "bad-total"), context => context.MessageId = original);
            var store = infrastructure.Database("DeadLetters");
            await Eventually.HoldsAsync(
                async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", original)) == 1,
                TimeSpan.FromSeconds(30),
                () => "The failed order was not captured.");
            using var editor = DeadLetterCaptureSpecs.Client(app, "editor", DeadLetterActions.EditScope);
            var uri = new Uri($"/api/v1/dead-letters/{original}/edit-and-replay", UriKind.Relative);

            using var wrongType = await editor.PostAsJsonAsync(uri, new { message = new { orderId = "not-a-uuid", failure = "none" }, reason = "typo" });
            using var missingField = await editor.PostAsJsonAsync(uri, new { message = new { failure = "none" }, reason = "typo" });
            using var fixedUp = await editor.PostAsJsonAsync(uri, new { message = new { orderId, failure = "none" }, reason = "corrected the total" });

            Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongType.StatusCode);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, missingField.StatusCode);
            Assert.True(fixedUp.StatusCode == HttpStatusCode.OK, await fixedUp.Content.ReadAsStringAsync());
            await Eventually.HoldsAsync(() => Task.FromResult(service.Processed.Count == 1), TimeSpan.FromSeconds(15), () => "The edited order never arrived.");
            var (messageId, hasFaultHeaders) = Assert.Single(service.Processed);
            Assert.NotEqual(original, messageId);
            Assert.False(hasFaultHeaders);
            Assert.Equal(original.ToString(), Assert.Single(service.OriginalIds));
            Assert.Equal(1, await store.ScalarAsync<long>(
                "SELECT count(*) FROM dead_letter_audit WHERE action = 'edit-and-replay' AND actor = 'editor' AND message_id = @id AND detail = 'corrected the total'",
                ("id", original)));
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    [Fact]
    public async Task A_filter_replays_every_dead_message_it_finds()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        try
        {
            var ids = new[] { NewId.NextGuid(), NewId.NextGuid() };
            foreach (var id in ids)
            {
                await bus.Publish(new OrderPlaced(NewId.NextGuid(), "null-customer"), context => context.MessageId = id);
            }

            var store = infrastructure.Database("DeadLetters");
            await Eventually.HoldsAsync(
                async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids)", ("ids", ids)) == 2,
                TimeSpan.FromSeconds(30),
                () => "The failed orders were not captured.");
            service.BugFixed = true;
            using var replayer = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterActions.ReplayScope);

            // Both fail with "Order <id> has no customer": free text on the exception message finds each.
            var first = await replayer.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative),
                new { filter = new { exception = "System.InvalidOperationException", q = "has no customer", queue = "buggy-orders_error" }, reason = "fixed" });

            var report = await CompletedJobAsync(replayer, first);
            Assert.True(report.GetProperty("replayed").GetInt32() >= 2, report.ToString());
            await Eventually.HoldsAsync(() => Task.FromResult(ids.All(id => service.Processed.Any(x => x.MessageId == id))), TimeSpan.FromSeconds(15),
                () => "Not every filtered message was replayed.");
            // Each replay left a copy in the journal (for crash recovery); the job's end drains it.
            await Eventually.HoldsAsync(
                async () => JsonDocument.Parse(await infrastructure.VirtualHost.GetQueueJsonAsync(DeadLetterReplayer.JournalQueue)).RootElement
                    .TryGetProperty("messages", out var count) && count.GetInt32() == 0,
                TimeSpan.FromSeconds(30),
                () => "The replay journal was not drained.");
        }
        finally
        {
            await bus.StopAsync();
        }
    }
}
