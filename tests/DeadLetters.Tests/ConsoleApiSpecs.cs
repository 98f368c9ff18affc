using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.TestInfrastructure;
using MassTransit;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>The APIs the operators' console reads and acts through: lists by status with cursors, bodies on request, groups with notes, bulk actions, the overview.</summary>
[Trait("Tier", "Integration")]
public sealed class ConsoleApiSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    [Fact]
    public async Task The_list_shows_one_status_at_a_time_and_its_cursor_visits_every_row_once_with_a_stable_total()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var queue = $"paging-{Guid.NewGuid():N}";
        var at = DateTimeOffset.UtcNow.AddMinutes(-10);
        // Three share one failure time: the cursor must split ties, not skip or repeat them.
        var dead = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            dead.Add(await SeedAsync(queue, "dead", at.AddSeconds(i < 3 ? 0 : i)));
        }

        var archived = new[] { await SeedAsync(queue, "archived", at), await SeedAsync(queue, "archived", at) };
        var replayed = await SeedAsync(queue, "replayed", at);
        using var reader = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterApi.ReadScope);

        var seen = new List<Guid>();
        var totals = new List<int>();
        var next = $"/api/v1/dead-letters?queue={queue}_error&limit=3";
        var pages = 0;
        while (next is not null && pages++ < 10)
        {
            var page = await reader.GetFromJsonAsync<JsonElement>(new Uri(next, UriKind.Relative));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(x => x.GetProperty("messageId").GetGuid()));
            totals.Add(page.GetProperty("total").GetInt32());
            next = page.GetProperty("next").GetString() is { } cursor ? $"/api/v1/dead-letters?queue={queue}_error&limit=3&cursor={Uri.EscapeDataString(cursor)}" : null;
            if (pages == 1)
            {
                // A failure arriving while the operator pages changes neither what the next pages hold nor the total of pages already read.
                await SeedAsync(queue, "dead", at.AddHours(1));
            }
        }

        Assert.Equal(3, pages);
        Assert.Equal(dead.Order(), seen.Order());
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(7, totals[0]);
        var archivedTab = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters?queue={queue}_error&status=archived", UriKind.Relative));
        var replayedTab = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters?queue={queue}_error&status=replayed", UriKind.Relative));
        Assert.Equal(archived.Order(), archivedTab.GetProperty("items").EnumerateArray().Select(x => x.GetProperty("messageId").GetGuid()).Order());
        Assert.Equal(2, archivedTab.GetProperty("total").GetInt32());
        Assert.Equal(JsonValueKind.Null, archivedTab.GetProperty("next").ValueKind);
        Assert.Equal([replayed], replayedTab.GetProperty("items").EnumerateArray().Select(x => x.GetProperty("messageId").GetGuid()));

        using var unknownStatus = await reader.GetAsync(new Uri("/api/v1/dead-letters?status=lost", UriKind.Relative));
        using var forgedCursor = await reader.GetAsync(new Uri("/api/v1/dead-letters?cursor=not-a-cursor", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, unknownStatus.StatusCode);
        Assert.Contains("status", await unknownStatus.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, forgedCursor.StatusCode);
        Assert.Contains("invalid-cursor", await forgedCursor.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Opening_a_message_is_not_a_body_read_and_reading_its_body_is_audited()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var id = await SeedAsync($"body-{Guid.NewGuid():N}", "dead", DateTimeOffset.UtcNow, body: """{"secret":"s3cr3t"}""");
        using var reader = DeadLetterCaptureSpecs.Client(app, "reader", DeadLetterApi.ReadScope);
        var store = infrastructure.Database("DeadLetters");
        Task<long> BodyReadsAsync() => store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'read-body' AND actor = 'reader' AND message_id = @id", ("id", id));

        var detail = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/{id}", UriKind.Relative));
        Assert.False(detail.TryGetProperty("body", out _), detail.ToString());
        Assert.Equal(19, detail.GetProperty("bodyLength").GetInt32());
        Assert.Equal(0, await BodyReadsAsync());

        var body = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/{id}/body", UriKind.Relative));
        Assert.Equal("""{"secret":"s3cr3t"}""", body.GetProperty("body").GetString());
        Assert.Equal(id, body.GetProperty("messageId").GetGuid());
        Assert.Equal(1, await BodyReadsAsync());
        using var unknown = await reader.GetAsync(new Uri($"/api/v1/dead-letters/{Guid.NewGuid()}/body", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task A_dry_run_counts_exactly_and_a_double_submitted_replay_is_one_job_that_replays_each_message_once()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        try
        {
            var ids = await FailAsync(bus, 3);
            var fingerprint = await infrastructure.Database("DeadLetters").ScalarAsync<string>("SELECT fingerprint FROM dead_letters WHERE message_id = @id", ("id", ids[0]));
            service.BugFixed = true;
            using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);
            var selection = new { messageIds = ids };

            using var dryRunResponse = await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay/dry-run", UriKind.Relative), selection);
            var dryRun = await dryRunResponse.Content.ReadFromJsonAsync<JsonElement>();
            using var noReason = await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), selection);
            // Unbounded, a 30 MB body of ids became one job of ~700 000 items before anyone looked at them.
            var tooMany = new { messageIds = Enumerable.Range(0, 1001).Select(_ => Guid.NewGuid()).ToArray(), reason = "too many" };
            using var tooManyDryRun = await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay/dry-run", UriKind.Relative), tooMany);
            using var tooManyReplay = await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), tooMany);
            var request = new { messageIds = ids, reason = "customer lookup fixed", idempotencyKey = Guid.NewGuid().ToString() };
            // A double click: the same request, the same key, twice at once.
            var submits = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), request)));
            var jobIds = await Task.WhenAll(submits.Select(async x => (await x.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetGuid()));
            var job = await DeadLetterReplaySpecs.CompletedJobAsync(operatorClient, submits[0]);

            Assert.True(dryRunResponse.StatusCode == HttpStatusCode.OK, dryRun.ToString());
            Assert.Equal(3, dryRun.GetProperty("count").GetInt32());
            var queue = Assert.Single(dryRun.GetProperty("queues").EnumerateArray());
            Assert.Equal(("buggy-orders", 3), (queue.GetProperty("queue").GetString(), queue.GetProperty("count").GetInt32()));
            Assert.True(dryRun.GetProperty("onlyFailingQueue").GetBoolean());
            Assert.Equal(HttpStatusCode.UnprocessableEntity, noReason.StatusCode);
            Assert.Contains("\"reason\"", await noReason.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal((HttpStatusCode.UnprocessableEntity, HttpStatusCode.UnprocessableEntity), (tooManyDryRun.StatusCode, tooManyReplay.StatusCode));
            Assert.Contains("\"messageIds\"", await tooManyReplay.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Single(jobIds.Distinct());
            Assert.Equal((3, 0, 100), (job.GetProperty("replayed").GetInt32(), job.GetProperty("pending").GetInt32(), job.GetProperty("percent").GetInt32()));
            await Eventually.HoldsAsync(() => Task.FromResult(service.Processed.Count >= 3), TimeSpan.FromSeconds(15), () => "The replays did not arrive.");
            Assert.Equal(ids.Order(), service.Processed.Select(x => x.MessageId).Order());
            var jobs = await operatorClient.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/dead-letters/replays", UriKind.Relative));
            Assert.Single(jobs.GetProperty("items").EnumerateArray(), x => x.GetProperty("reason").GetString() == "customer lookup fixed");
            // The group shows what last happened to it.
            var groups = await operatorClient.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/dead-letters/groups?status=replayed&queue=buggy-orders_error", UriKind.Relative));
            var group = Assert.Single(groups.EnumerateArray(), x => x.GetProperty("fingerprint").GetString() == fingerprint);
            Assert.Equal(jobIds[0], group.GetProperty("lastReplay").GetProperty("jobId").GetGuid());
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    [Fact]
    public async Task A_canary_stops_after_its_first_messages_and_a_cancelled_job_resumes_to_completion()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        try
        {
            var ids = await FailAsync(bus, 7);
            service.BugFixed = true;
            using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);

            using var canaryStart = await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative),
                new { messageIds = ids.Take(3).ToArray(), reason = "canary", canary = 1 });
            var canary = await FinishedJobAsync(operatorClient, canaryStart.Headers.Location!);
            // A job is visible to whoever may read dead letters (the home screen lists running ones to read-only operators).
            using var reader = DeadLetterCaptureSpecs.Client(app, "reader", DeadLetterApi.ReadScope);
            using var readJob = await reader.GetAsync(canaryStart.Headers.Location!);
            using var readItems = await reader.GetAsync(new Uri($"{canaryStart.Headers.Location}/items", UriKind.Relative));
            using var readJobs = await reader.GetAsync(new Uri("/api/v1/dead-letters/replays", UriKind.Relative));
            Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK), (readJob.StatusCode, readItems.StatusCode, readJobs.StatusCode));
            Assert.Equal(("canary-complete", 1, 2), (canary.GetProperty("status").GetString(), canary.GetProperty("replayed").GetInt32(), canary.GetProperty("pending").GetInt32()));
            using var canaryResume = await operatorClient.PostAsync(new Uri($"{canaryStart.Headers.Location}/resume", UriKind.Relative), null);
            var afterCanary = await FinishedJobAsync(operatorClient, canaryStart.Headers.Location!);
            Assert.Equal(("completed", 3), (afterCanary.GetProperty("status").GetString(), afterCanary.GetProperty("replayed").GetInt32()));

            // One a second: slow enough that the cancel arrives while it runs.
            using var slowStart = await operatorClient.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative),
                new { messageIds = ids.Skip(3).ToArray(), reason = "slow", ratePerSecond = 1 });
            var location = slowStart.Headers.Location!;
            using var cancel = await operatorClient.PostAsync(new Uri($"{location}/cancel", UriKind.Relative), null);
            Assert.True(cancel.StatusCode == HttpStatusCode.OK, await cancel.Content.ReadAsStringAsync());
            var cancelled = await FinishedJobAsync(operatorClient, location);
            using var cancelAgain = await operatorClient.PostAsync(new Uri($"{location}/cancel", UriKind.Relative), null);
            var items = await operatorClient.GetFromJsonAsync<JsonElement>(new Uri($"{location}/items", UriKind.Relative));
            using var resume = await operatorClient.PostAsync(new Uri($"{location}/resume", UriKind.Relative), null);
            var resumed = await FinishedJobAsync(operatorClient, location);

            Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
            Assert.True(cancelled.GetProperty("pending").GetInt32() > 0, cancelled.ToString());
            Assert.Equal(HttpStatusCode.Conflict, cancelAgain.StatusCode);
            Assert.Equal(4, items.GetProperty("items").GetArrayLength());
            Assert.Contains(items.GetProperty("items").EnumerateArray(), x => x.GetProperty("outcome").ValueKind == JsonValueKind.Null);
            Assert.Equal(("completed", 4, 100), (resumed.GetProperty("status").GetString(), resumed.GetProperty("replayed").GetInt32(), resumed.GetProperty("percent").GetInt32()));
            await Eventually.HoldsAsync(() => Task.FromResult(service.Processed.Count >= 7), TimeSpan.FromSeconds(15), () => "The replays did not arrive.");
            Assert.Equal(ids.Order(), service.Processed.Select(x => x.MessageId).Order());
            var store = infrastructure.Database("DeadLetters");
            Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'replay-cancel' AND actor = 'operator'"));
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    [Fact]
    public async Task A_group_note_survives_new_failures_arriving_in_the_group_and_groups_filter_and_name_their_queues()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var queue = $"notes-{Guid.NewGuid():N}";
        var fingerprint = Guid.NewGuid().ToString("N");
        await SeedAsync(queue, "dead", DateTimeOffset.UtcNow, fingerprint: fingerprint);
        using var editor = DeadLetterCaptureSpecs.Client(app, "editor", DeadLetterApi.ReadScope, DeadLetterActions.EditScope);
        using var reader = DeadLetterCaptureSpecs.Client(app, "reader", DeadLetterApi.ReadScope);

        using var saved = await editor.PutAsJsonAsync(new Uri($"/api/v1/dead-letters/groups/{fingerprint}/note", UriKind.Relative), new { text = "vendor outage, ticket 42", investigating = true });
        using var tooLong = await editor.PutAsJsonAsync(new Uri($"/api/v1/dead-letters/groups/{fingerprint}/note", UriKind.Relative), new { text = new string('x', 2001), investigating = false });
        using var forbidden = await reader.PutAsJsonAsync(new Uri($"/api/v1/dead-letters/groups/{fingerprint}/note", UriKind.Relative), new { text = "mine", investigating = false });
        await SeedAsync(queue, "dead", DateTimeOffset.UtcNow, fingerprint: fingerprint);
        await SeedAsync($"{queue}-other", "dead", DateTimeOffset.UtcNow, fingerprint: fingerprint);
        var groups = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/groups?q=seeded&exception=System.TimeoutException", UriKind.Relative));
        var byQueue = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/groups?queue={queue}-other_error", UriKind.Relative));

        Assert.True(saved.StatusCode == HttpStatusCode.OK, await saved.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooLong.StatusCode);
        Assert.Contains("\"text\"", await tooLong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var group = Assert.Single(groups.EnumerateArray(), x => x.GetProperty("fingerprint").GetString() == fingerprint);
        Assert.Equal(3, group.GetProperty("count").GetInt32());
        Assert.Equal([$"{queue}-other_error", $"{queue}_error"], group.GetProperty("queues").EnumerateArray().Select(x => x.GetString()).Order(StringComparer.Ordinal));
        Assert.Equal("vendor outage, ticket 42", group.GetProperty("note").GetProperty("text").GetString());
        Assert.True(group.GetProperty("note").GetProperty("investigating").GetBoolean());
        Assert.Equal("editor", group.GetProperty("note").GetProperty("by").GetString());
        Assert.Equal(1, Assert.Single(byQueue.EnumerateArray()).GetProperty("count").GetInt32());
        Assert.Equal(1, await infrastructure.Database("DeadLetters").ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'group-note' AND actor = 'editor' AND detail LIKE @fingerprint", ("fingerprint", fingerprint + "%")));
    }

    [Fact]
    public async Task Bulk_archive_restore_and_delete_need_a_reason_and_audit_each_message_in_the_same_transaction()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var queue = $"bulk-{Guid.NewGuid():N}";
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await SeedAsync(queue, "dead", DateTimeOffset.UtcNow));
        }

        using var editor = DeadLetterCaptureSpecs.Client(app, "editor", DeadLetterApi.ReadScope, DeadLetterActions.EditScope);
        using var deleter = DeadLetterCaptureSpecs.Client(app, "deleter", DeadLetterActions.DeleteScope);
        var store = infrastructure.Database("DeadLetters");
        Task<long> AuditedAsync(string action, string actor, string reason) => store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = @action AND actor = @actor AND detail = @reason AND message_id = ANY(@ids)",
            ("action", action), ("actor", actor), ("reason", reason), ("ids", ids.ToArray()));

        using var noReason = await editor.PostAsJsonAsync(new Uri("/api/v1/dead-letters/archive", UriKind.Relative), new { filter = new { queue = $"{queue}_error" } });
        using var singleNoReason = await editor.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{ids[0]}/archive", UriKind.Relative), new { });
        using var archive = await editor.PostAsJsonAsync(new Uri("/api/v1/dead-letters/archive", UriKind.Relative), new { filter = new { queue = $"{queue}_error" }, reason = "known noise" });
        using var restore = await editor.PostAsJsonAsync(new Uri("/api/v1/dead-letters/restore", UriKind.Relative), new { messageIds = new[] { ids[0] }, reason = "needed after all" });
        using var deleteByEditor = await editor.PostAsJsonAsync(new Uri("/api/v1/dead-letters/delete", UriKind.Relative), new { messageIds = ids, reason = "gone" });
        using var delete = await deleter.PostAsJsonAsync(new Uri("/api/v1/dead-letters/delete", UriKind.Relative),
            new { filter = new { queue = $"{queue}_error", status = "archived" }, reason = "expired promotion" });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, noReason.StatusCode);
        Assert.Contains("\"reason\"", await noReason.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, singleNoReason.StatusCode);
        var archived = await archive.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((3, 3), (archived.GetProperty("matched").GetInt32(), archived.GetProperty("changed").GetInt32()));
        Assert.Equal(1, (await restore.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("changed").GetInt32());
        Assert.Equal(HttpStatusCode.Forbidden, deleteByEditor.StatusCode);
        Assert.Equal(2, (await delete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("changed").GetInt32());
        Assert.Equal(3, await AuditedAsync("archive", "editor", "known noise"));
        Assert.Equal(1, await AuditedAsync("restore", "editor", "needed after all"));
        Assert.Equal(2, await AuditedAsync("delete", "deleter", "expired promotion"));
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())));
        Assert.Equal(ids[0], await store.ScalarAsync<Guid>("SELECT message_id FROM dead_letters WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())));
    }

    [Fact]
    public async Task The_overview_counts_what_waits_per_queue_and_in_total()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var queue = $"overview-{Guid.NewGuid():N}";
        await SeedAsync(queue, "dead", DateTimeOffset.UtcNow);
        await SeedAsync(queue, "dead", DateTimeOffset.UtcNow);
        await SeedAsync(queue, "archived", DateTimeOffset.UtcNow);
        using var reader = DeadLetterCaptureSpecs.Client(app, "reader", DeadLetterApi.ReadScope);

        var overview = await reader.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/dead-letters/overview", UriKind.Relative));

        var waiting = Assert.Single(overview.GetProperty("waitingByQueue").EnumerateArray(), x => x.GetProperty("queue").GetString() == $"{queue}_error");
        Assert.Equal(2, waiting.GetProperty("count").GetInt32());
        Assert.True(overview.GetProperty("totals").GetProperty("dead").GetInt32() >= 2);
        Assert.True(overview.GetProperty("totals").GetProperty("archived").GetInt32() >= 1);
        Assert.True(overview.GetProperty("largestGroups").GetArrayLength() is > 0 and <= 5);
        Assert.Equal(JsonValueKind.Array, overview.GetProperty("runningJobs").ValueKind);
    }

    [Fact]
    public async Task The_edit_form_lists_the_contract_fields_and_an_invalid_edit_names_the_field()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure, editAndReplay: true);
        using var starter = app.CreateClient();
        var id = await SeedAsync($"edit-{Guid.NewGuid():N}", "dead", DateTimeOffset.UtcNow, messageType: "urn:message:EventBackbone.DeadLetters.Tests:OrderPlaced");
        using var editor = DeadLetterCaptureSpecs.Client(app, "editor", DeadLetterApi.ReadScope, DeadLetterActions.EditScope);

        var form = await editor.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/{id}/edit", UriKind.Relative));
        using var wrongType = await editor.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{id}/edit-and-replay", UriKind.Relative),
            new { message = new { orderId = "not-a-uuid", failure = "none" }, reason = "typo" });
        using var unknown = await editor.GetAsync(new Uri($"/api/v1/dead-letters/{Guid.NewGuid()}/edit", UriKind.Relative));

        Assert.True(form.GetProperty("enabled").GetBoolean());
        Assert.Equal(typeof(OrderPlaced).FullName, form.GetProperty("contract").GetString());
        Assert.Equal(["orderId:uuid", "failure:string"], form.GetProperty("fields").EnumerateArray().Select(x => $"{x.GetProperty("name").GetString()}:{x.GetProperty("type").GetString()}"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongType.StatusCode);
        var errors = (await wrongType.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("orderId", out _), errors.ToString());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Every_console_endpoint_is_in_the_openapi_document()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var client = app.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        var paths = document.RootElement.GetProperty("paths");
        foreach (var (path, method) in new[]
        {
            ("/api/v1/dead-letters", "get"), ("/api/v1/dead-letters/groups", "get"), ("/api/v1/dead-letters/groups/{fingerprint}/note", "put"),
            ("/api/v1/dead-letters/{messageId}", "get"), ("/api/v1/dead-letters/{messageId}/body", "get"), ("/api/v1/dead-letters/{messageId}/edit", "get"),
            ("/api/v1/dead-letters/audit", "get"), ("/api/v1/dead-letters/overview", "get"),
            ("/api/v1/dead-letters/replay/dry-run", "post"), ("/api/v1/dead-letters/replay", "post"), ("/api/v1/dead-letters/replays", "get"),
            ("/api/v1/dead-letters/replays/{jobId}", "get"), ("/api/v1/dead-letters/replays/{jobId}/items", "get"),
            ("/api/v1/dead-letters/replays/{jobId}/cancel", "post"), ("/api/v1/dead-letters/replays/{jobId}/resume", "post"),
            ("/api/v1/dead-letters/archive", "post"), ("/api/v1/dead-letters/restore", "post"), ("/api/v1/dead-letters/delete", "post"),
            ("/api/v1/dead-letters/{messageId}/archive", "post"), ("/api/v1/dead-letters/{messageId}/restore", "post"), ("/api/v1/dead-letters/{messageId}", "delete"),
            ("/api/v1/dead-letters/{messageId}/edit-and-replay", "post"), ("/api/v1/dead-letters/{messageId}/replay", "post"),
        })
        {
            var operation = paths.TryGetProperty(path, out var item) && item.TryGetProperty(method, out var found) ? found : default;
            Assert.True(operation.ValueKind == JsonValueKind.Object, $"{method} {path} is not in the OpenAPI document.");
            Assert.True(operation.GetProperty("responses").EnumerateObject().Any(x => x.Name.StartsWith('2')), $"{method} {path} documents no success response.");
        }
    }

    private async Task<List<Guid>> FailAsync(IBusControl bus, int count)
    {
        var ids = Enumerable.Range(0, count).Select(_ => NewId.NextGuid()).ToList();
        foreach (var id in ids)
        {
            await bus.Publish(new OrderPlaced(NewId.NextGuid(), "null-customer"), context => context.MessageId = id);
        }

        var store = infrastructure.Database("DeadLetters");
        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())) == count,
            TimeSpan.FromSeconds(30),
            () => "The failed orders were not captured.");
        return ids;
    }

    private async Task<Guid> SeedAsync(string queue, string status, DateTimeOffset lastFailedAt, string body = "{}", string? fingerprint = null, string? messageType = null)
    {
        var id = Guid.NewGuid();
        await infrastructure.Database("DeadLetters").ScalarAsync<int>(
            """
            INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, message_type, exception_type, exception_message, fingerprint, body, headers,
                first_failed_at, last_failed_at, failure_count, status)
            VALUES (@id, @queue || '_error', @queue, 'fault', @type, 'System.TimeoutException', 'seeded failure', @fingerprint, convert_to(@body, 'UTF8'), '{}',
                @at, @at, 1, @status)
            """,
            ("id", id), ("queue", queue), ("type", messageType ?? "urn:message:Seeded:Message"), ("fingerprint", fingerprint ?? Guid.NewGuid().ToString("N")),
            ("body", body), ("at", lastFailedAt), ("status", status));
        return id;
    }

    /// <summary>Follows a replay job until it stops running (completed, failed, cancelled or canary-complete).</summary>
    private static async Task<JsonElement> FinishedJobAsync(HttpClient client, Uri location)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var job = await client.GetFromJsonAsync<JsonElement>(location);
            if (job.GetProperty("status").GetString() != "running")
            {
                return job;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The replay job did not stop: {job}");
            await Task.Delay(100);
        }
    }
}
