using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>One embedded backbone (no servers) and an operator token minted by it with its dev key.</summary>
public sealed class EmbeddedDeadLetterFixture : IAsyncLifetime
{
    public const string AllScopes = "dead-letters:read dead-letters:replay dead-letters:edit dead-letters:delete signups:read commands:signup";

    public HostProcess Backbone { get; private set; } = null!;

    public HttpClient Operator { get; } = new();

    public async Task InitializeAsync()
    {
        Backbone = HostProcess.Start("Embedded", new Dictionary<string, string>());
        await Backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);
        Operator.BaseAddress = Backbone.BaseAddress;
        Operator.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync("embedded-operator", AllScopes));
    }

    public async Task<string> TokenAsync(string subject, string scopes)
    {
        await using var mint = HostProcess.StartAssembly("dev-token", RepositoryLayout.HostAssembly("Embedded"), new Dictionary<string, string>(),
            ["dev-token", "--scope", scopes, "--subject", subject]);
        Assert.Equal(0, await mint.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        return mint.Output.Trim();
    }

    /// <summary>The README's demo: a SignupRequested whose signupId is not a GUID, sent to the signup workflow's queue.</summary>
    public async Task<Guid> SendMalformedSignupAsync()
    {
        using var response = await Operator.PostAsync(new Uri("/api/v1/demo/malformed-signup", UriKind.Relative), content: null);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{Backbone.Logs}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("messageId").GetGuid();
    }

    public async Task<JsonElement> GetAsync(string path)
    {
        using var response = await Operator.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {text}\n{Backbone.Logs}");
        return JsonSerializer.Deserialize<JsonElement>(text);
    }

    public async Task<JsonElement?> DeadLetterAsync(Guid messageId, string status = "dead")
    {
        var page = await GetAsync($"/api/v1/dead-letters?status={status}&limit=500");
        return page.GetProperty("items").EnumerateArray().Select(x => (JsonElement?)x).FirstOrDefault(x => x!.Value.GetProperty("messageId").GetGuid() == messageId);
    }

    public async Task WaitUntilCapturedAsync(Guid messageId, int failureCount = 1) =>
        await Eventually.HoldsAsync(
            async () => await DeadLetterAsync(messageId) is { } letter && letter.GetProperty("failureCount").GetInt32() == failureCount,
            TimeSpan.FromSeconds(60),
            () => $"{messageId} was not captured with failure count {failureCount}.\n{Backbone.Logs}");

    public async Task DisposeAsync()
    {
        Operator.Dispose();
        if (Backbone is not null)
        {
            await Backbone.DisposeAsync();
        }
    }
}

/// <summary>
/// The operator loop with no server installed: a message that faults in embedded mode is captured in-process into the
/// in-memory store and served by the same dead-letter API as the PostgreSQL store's.
/// </summary>
public sealed class EmbeddedDeadLetterSpecs(EmbeddedDeadLetterFixture fixture) : IClassFixture<EmbeddedDeadLetterFixture>
{
    private const string SignupRequested = "urn:message:EventBackbone.Contracts.Signups:SignupRequested";

    [Fact]
    public async Task A_faulting_message_is_listed_with_the_type_its_envelope_names_and_the_reason()
    {
        var messageId = await fixture.SendMalformedSignupAsync();

        await fixture.WaitUntilCapturedAsync(messageId);

        var letter = (await fixture.DeadLetterAsync(messageId))!.Value;
        Assert.Equal(SignupRequested, letter.GetProperty("messageType").GetString());
        Assert.Equal("fault", letter.GetProperty("reason").GetString());
        Assert.Equal("signup-state_error", letter.GetProperty("sourceQueue").GetString());
        Assert.Equal("signup-state", letter.GetProperty("targetQueue").GetString());
        // MassTransit records the innermost exception: the GUID parser's, under the JSON reader's.
        Assert.Equal("System.FormatException", letter.GetProperty("exceptionType").GetString());
        var page = await fixture.GetAsync($"/api/v1/dead-letters?messageType=SignupRequested&limit=1");
        Assert.True(page.GetProperty("total").GetInt32() >= 1, page.ToString());
        Assert.Single(page.GetProperty("items").EnumerateArray());

        var detail = await fixture.GetAsync($"/api/v1/dead-letters/{messageId}");
        Assert.False(detail.TryGetProperty("body", out _), detail.ToString());
        Assert.True(detail.GetProperty("bodyLength").GetInt32() > 0, detail.ToString());
        Assert.False(string.IsNullOrEmpty(detail.GetProperty("stackTrace").GetString()), detail.ToString());
    }

    [Fact]
    public async Task Failures_with_one_cause_form_one_group_and_a_group_replay_dry_run_counts_them()
    {
        var first = await fixture.SendMalformedSignupAsync();
        var second = await fixture.SendMalformedSignupAsync();
        await fixture.WaitUntilCapturedAsync(first);
        await fixture.WaitUntilCapturedAsync(second);
        var fingerprint = (await fixture.DeadLetterAsync(first))!.Value.GetProperty("fingerprint").GetString()!;
        Assert.Equal(fingerprint, (await fixture.DeadLetterAsync(second))!.Value.GetProperty("fingerprint").GetString());
        var waiting = (await fixture.GetAsync($"/api/v1/dead-letters?fingerprint={fingerprint}")).GetProperty("total").GetInt32();

        var groups = await fixture.GetAsync("/api/v1/dead-letters/groups");
        using var dryRun = await fixture.Operator.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay/dry-run", UriKind.Relative), new { fingerprint });

        var group = groups.EnumerateArray().Single(x => x.GetProperty("fingerprint").GetString() == fingerprint);
        Assert.Equal(waiting, group.GetProperty("count").GetInt32());
        Assert.True(waiting >= 2, groups.ToString());
        Assert.Equal(SignupRequested, group.GetProperty("messageType").GetString());
        Assert.Equal(["signup-state_error"], group.GetProperty("queues").EnumerateArray().Select(x => x.GetString()));
        var plan = await dryRun.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(dryRun.StatusCode == HttpStatusCode.OK, plan.ToString());
        Assert.Equal(waiting, plan.GetProperty("count").GetInt32());
        var queue = Assert.Single(plan.GetProperty("queues").EnumerateArray());
        Assert.Equal("signup-state", queue.GetProperty("queue").GetString());
        Assert.Equal(waiting, queue.GetProperty("count").GetInt32());
        Assert.True(plan.GetProperty("onlyFailingQueue").GetBoolean());
    }

    /// <summary>
    /// The replay goes to the failing queue once: the still-malformed message fails there exactly once more (failure
    /// count 2, never 3), a double-submitted job is the same job, and the corrected message is consumed by the workflow.
    /// </summary>
    [Fact]
    public async Task A_replay_job_delivers_each_message_once_and_an_edited_copy_is_consumed()
    {
        var messageId = await fixture.SendMalformedSignupAsync();
        await fixture.WaitUntilCapturedAsync(messageId);
        var request = new { messageIds = new[] { messageId }, reason = "after the fix", idempotencyKey = $"replay-{messageId}" };

        using var started = await fixture.Operator.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), request);
        using var doubleClick = await fixture.Operator.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), request);

        var job = await started.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(started.StatusCode == HttpStatusCode.Accepted, job.ToString());
        var jobId = job.GetProperty("jobId").GetGuid();
        Assert.Equal(jobId, (await doubleClick.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetGuid());
        await Eventually.HoldsAsync(
            async () => (await fixture.GetAsync($"/api/v1/dead-letters/replays/{jobId}")).GetProperty("status").GetString() == "completed",
            TimeSpan.FromSeconds(60),
            () => $"The replay job did not complete.\n{fixture.Backbone.Logs}");
        var status = await fixture.GetAsync($"/api/v1/dead-letters/replays/{jobId}");
        Assert.Equal(1, status.GetProperty("replayed").GetInt32());
        Assert.Equal(100, status.GetProperty("percent").GetInt32());
        // Still malformed, so it fails on its queue again: once, as one more failure of the same record.
        await fixture.WaitUntilCapturedAsync(messageId, failureCount: 2);
        var jobs = await fixture.GetAsync("/api/v1/dead-letters/replays");
        Assert.Single(jobs.GetProperty("items").EnumerateArray(), x => x.GetProperty("jobId").GetGuid() == jobId);

        var signupId = Guid.NewGuid();
        using var edited = await fixture.Operator.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{messageId}/edit-and-replay", UriKind.Relative), new
        {
            message = new { signupId, email = "newcomer@example.com", displayName = "Newcomer", requestedAt = DateTimeOffset.UtcNow },
            reason = "signupId was not a GUID",
        });

        Assert.True(edited.IsSuccessStatusCode, await edited.Content.ReadAsStringAsync());
        await Eventually.HoldsAsync(
            async () => (await fixture.Operator.GetAsync(new Uri($"/api/v1/signups/{signupId}", UriKind.Relative))).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60),
            () => $"The edited signup was not consumed by the workflow.\n{fixture.Backbone.Logs}");
        Assert.Equal("replayed", (await fixture.DeadLetterAsync(messageId, "replayed"))?.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Reading_a_body_is_audited_and_opening_the_message_is_not()
    {
        var messageId = await fixture.SendMalformedSignupAsync();
        await fixture.WaitUntilCapturedAsync(messageId);

        await fixture.GetAsync($"/api/v1/dead-letters/{messageId}");
        var body = await fixture.GetAsync($"/api/v1/dead-letters/{messageId}/body");

        Assert.Contains("not-a-guid", body.GetProperty("body").GetString(), StringComparison.Ordinal);
        using var audit = await fixture.Operator.GetAsync(new Uri($"/api/v1/dead-letters/audit?messageId={messageId}", UriKind.Relative));
        var entries = await audit.Content.ReadFromJsonAsync<JsonElement>();
        var entry = Assert.Single(entries.EnumerateArray());
        Assert.Equal("read-body", entry.GetProperty("action").GetString());
        Assert.Equal("embedded-operator", entry.GetProperty("actor").GetString());
    }

    [Fact]
    public async Task Archiving_needs_a_reason_and_moves_the_message_to_the_archived_tab()
    {
        var messageId = await fixture.SendMalformedSignupAsync();
        await fixture.WaitUntilCapturedAsync(messageId);
        var archive = new Uri($"/api/v1/dead-letters/{messageId}/archive", UriKind.Relative);

        using var withoutReason = await fixture.Operator.PostAsJsonAsync(archive, new { reason = " " });
        using var withReason = await fixture.Operator.PostAsJsonAsync(archive, new { reason = "demo message" });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, withoutReason.StatusCode);
        Assert.True((await withoutReason.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("reason", out _));
        Assert.True(withReason.StatusCode == HttpStatusCode.OK, await withReason.Content.ReadAsStringAsync());
        Assert.Null(await fixture.DeadLetterAsync(messageId));
        Assert.NotNull(await fixture.DeadLetterAsync(messageId, "archived"));
    }

    [Fact]
    public async Task A_read_only_operator_is_refused_a_replay_and_the_refusal_is_audited()
    {
        using var reader = new HttpClient { BaseAddress = fixture.Backbone.BaseAddress };
        reader.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await fixture.TokenAsync("read-only-operator", "dead-letters:read"));

        using var refused = await reader.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { fingerprint = "any", reason = "forced" });

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var audit = await fixture.GetAsync("/api/v1/dead-letters/audit?actor=read-only-operator&action=refused-403");
        Assert.Single(audit.EnumerateArray());
    }

    /// <summary>
    /// The console is served by the embedded host itself: an operator signs in with a token the host mints with its dev
    /// key, and the triage home lists the queue whose message failed — read through this process's own API.
    /// </summary>
    [Fact]
    public async Task The_console_in_embedded_mode_signs_in_with_a_minted_token_and_shows_the_failing_queue()
    {
        var messageId = await fixture.SendMalformedSignupAsync();
        await fixture.WaitUntilCapturedAsync(messageId);
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = fixture.Backbone.BaseAddress,
        };

        var form = await browser.GetStringAsync(new Uri("/sign-in/dev", UriKind.Relative));
        var antiforgery = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"");
        Assert.True(antiforgery.Success, form);
        using var signIn = await browser.PostAsync(new Uri("/sign-in/dev", UriKind.Relative), new FormUrlEncodedContent(
        [
            new("__RequestVerificationToken", antiforgery.Groups[1].Value), new("Mint", "true"), new("Subject", "console-operator"),
            new("Scopes", "dead-letters:read"), new("ReturnUrl", "/"),
        ]));
        Assert.True(signIn.StatusCode == HttpStatusCode.Redirect, $"{(int)signIn.StatusCode} {await signIn.Content.ReadAsStringAsync()}\n{fixture.Backbone.Logs}");
        using var home = await browser.GetAsync(new Uri("/", UriKind.Relative));

        var page = await home.Content.ReadAsStringAsync();
        Assert.True(home.StatusCode == HttpStatusCode.OK, $"{(int)home.StatusCode} {page}\n{fixture.Backbone.Logs}");
        Assert.Contains("signup-state_error", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_canary_replays_the_first_message_and_stops_until_resumed_and_a_group_note_survives()
    {
        var ids = new[] { await fixture.SendMalformedSignupAsync(), await fixture.SendMalformedSignupAsync(), await fixture.SendMalformedSignupAsync() };
        foreach (var id in ids)
        {
            await fixture.WaitUntilCapturedAsync(id);
        }

        var fingerprint = (await fixture.DeadLetterAsync(ids[0]))!.Value.GetProperty("fingerprint").GetString()!;
        using var note = await fixture.Operator.PutAsJsonAsync(
            new Uri($"/api/v1/dead-letters/groups/{fingerprint}/note", UriKind.Relative), new { text = "signupId typo upstream", investigating = true });
        using var started = await fixture.Operator.PostAsJsonAsync(
            new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { messageIds = ids, reason = "canary first", canary = 1 });
        var jobId = (await started.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetGuid();
        async Task<JsonElement> JobAsync() => await fixture.GetAsync($"/api/v1/dead-letters/replays/{jobId}");
        await Eventually.HoldsAsync(async () => (await JobAsync()).GetProperty("status").GetString() == "canary-complete", TimeSpan.FromSeconds(60),
            () => $"The canary did not stop the job.\n{fixture.Backbone.Logs}");
        var canary = await JobAsync();
        using var resumed = await fixture.Operator.PostAsync(new Uri($"/api/v1/dead-letters/replays/{jobId}/resume", UriKind.Relative), content: null);
        await Eventually.HoldsAsync(async () => (await JobAsync()).GetProperty("status").GetString() == "completed", TimeSpan.FromSeconds(60),
            () => $"The resumed job did not complete.\n{fixture.Backbone.Logs}");

        Assert.True(note.StatusCode == HttpStatusCode.OK, await note.Content.ReadAsStringAsync());
        Assert.Equal(1, canary.GetProperty("replayed").GetInt32());
        Assert.Equal(2, canary.GetProperty("pending").GetInt32());
        Assert.Equal(HttpStatusCode.Accepted, resumed.StatusCode);
        Assert.Equal(3, (await JobAsync()).GetProperty("replayed").GetInt32());
        // Each replayed once: fails once more on its queue, and the group (refilled) still carries its note.
        foreach (var id in ids)
        {
            await fixture.WaitUntilCapturedAsync(id, failureCount: 2);
        }

        var group = (await fixture.GetAsync("/api/v1/dead-letters/groups")).EnumerateArray().Single(x => x.GetProperty("fingerprint").GetString() == fingerprint);
        Assert.Equal("signupId typo upstream", group.GetProperty("note").GetProperty("text").GetString());
        Assert.True(group.GetProperty("note").GetProperty("investigating").GetBoolean());
        Assert.Equal(jobId, group.GetProperty("lastReplay").GetProperty("jobId").GetGuid());
    }
}
