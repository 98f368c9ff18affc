using System.Text.RegularExpressions;
using EventBackbone.TestInfrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>
/// One embedded host (no servers: in-memory transport and stores) serving the console itself, and its own chromium.
/// The host signs with a key of this fixture's, so the sender of the demo's malformed signups has a token too.
/// </summary>
public sealed class EmbeddedConsoleFixture : IAsyncLifetime
{
    private static readonly string SigningKey = TestSigningKey.Generate();

    private IPlaywright _playwright = null!;
    private IAPIRequestContext _sender = null!;

    public HostProcess Backbone { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        (_playwright, Browser) = await Chromium.LaunchAsync();
        Backbone = HostProcess.Start("Embedded", new Dictionary<string, string> { ["Backbone:Auth:SigningKeys:0"] = SigningKey });
        await Backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);
        _sender = await _playwright.APIRequest.NewContextAsync(new()
        {
            BaseURL = Backbone.BaseAddress.ToString(),
            ExtraHTTPHeaders = new Dictionary<string, string>
            {
                ["Authorization"] = $"Bearer {await MintedTokens.MintAsync(SigningKey, "demo-sender", "commands:signup dead-letters:read")}",
            },
            Timeout = (float)Chromium.Patience.TotalMilliseconds,
        });
    }

    /// <summary>
    /// The README's demo (<c>POST /api/v1/demo/malformed-signup</c>): a SignupRequested whose signupId is not a GUID on
    /// the signup workflow's queue; returns its message id once the host has captured it as a dead letter.
    /// </summary>
    public async Task<Guid> SendMalformedSignupAsync()
    {
        var sent = await _sender.PostAsync("/api/v1/demo/malformed-signup");
        Assert.True(sent.Status == 202, $"The demo answered {sent.Status}: {await sent.TextAsync()}\n{Backbone.Logs}");
        var messageId = (await sent.JsonAsync())!.Value.GetProperty("messageId").GetGuid();
        await Eventually.HoldsAsync(
            async () => (await _sender.GetAsync($"/api/v1/dead-letters/{messageId}")).Ok,
            Chromium.Patience,
            () => $"The malformed signup {messageId} was not captured.\n{Backbone.Logs}");
        return messageId;
    }

    /// <summary>What the host answers to a GET with the sender's token (read scope): for failure messages.</summary>
    public async Task<string> GetTextAsync(string path)
    {
        var response = await _sender.GetAsync(path);
        return $"{response.Status} {await response.TextAsync()}";
    }

    /// <summary>A fresh browser context signed in as <paramref name="operatorName"/> with a token the host mints (every scope offered).</summary>
    public async Task<(IBrowserContext Context, IPage Page)> SignInWithMintedTokenAsync(string operatorName)
    {
        var (context, page) = await ConsoleFixture.NewSessionAsync(Browser, Backbone.BaseAddress);
        await page.GotoAsync("/sign-in/dev");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "dev sign-in (embedded)");
        await page.GetByLabel("Operator name").FillAsync(operatorName);
        await page.GetByRole(AriaRole.Button, new() { Name = "Mint a token and sign in" }).ClickAsync();
        await Expect(page).Not.ToHaveURLAsync(new Regex("/sign-in"));
        return (context, page);
    }

    public async Task DisposeAsync()
    {
        if (_sender is not null)
        {
            await _sender.DisposeAsync();
        }

        if (Backbone is not null)
        {
            await Backbone.DisposeAsync();
        }

        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

/// <summary>
/// "The same flow works in embedded mode": the operator's loop in the browser against one embedded host — sign in with
/// a minted token, triage, groups, a dry run, a replay job to 100 %, and edit-and-replay with the contract's error
/// shown next to the field. The specs share the host, so each counts only what it can tell apart.
/// </summary>
public sealed class EmbeddedConsoleSpecs(EmbeddedConsoleFixture embedded) : IClassFixture<EmbeddedConsoleFixture>
{
    private const string FailingQueue = "signup-state_error";

    /// <summary>The demo's failure: the GUID parser's, innermost under the JSON reader's (MassTransit records that one).</summary>
    private static readonly Failure NotAGuid = new("System.FormatException", "");

    [Fact]
    public async Task Malformed_signups_show_on_home_and_as_one_group_whose_dry_run_counts_them_and_whose_replay_job_completes()
    {
        // Three, and no other dead signup: the other spec's message is replayed (edited), never dead, by the time it ends.
        var ids = new[] { await embedded.SendMalformedSignupAsync(), await embedded.SendMalformedSignupAsync(), await embedded.SendMalformedSignupAsync() };
        var (context, page) = await embedded.SignInWithMintedTokenAsync("embedded-operator");
        await using var _ = context;

        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Triage");
        var waiting = page.GetByRole(AriaRole.Region, new() { Name = "Waiting per queue" }).GetByRole(AriaRole.Row).Filter(new() { HasText = FailingQueue });
        await Expect(waiting.GetByRole(AriaRole.Cell)).ToHaveTextAsync(ids.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Accessibility.AssertNoSeriousViolationsAsync(page, "triage (embedded)");

        await page.GotoAsync("/groups");
        await Expect(page.Locator("main section.group")).ToHaveCountAsync(1);
        await Expect(GroupSpecs.Group(page, NotAGuid).GetByRole(AriaRole.Link, new() { Name = $"{ids.Length} messages" })).ToBeVisibleAsync();
        await Expect(GroupSpecs.Group(page, NotAGuid)).ToContainTextAsync(FailingQueue);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "groups (embedded)");

        await GroupSpecs.Group(page, NotAGuid).GetByRole(AriaRole.Button, new() { Name = "Replay this group" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/replay/new\\?.*fingerprint="));
        var dryRun = page.GetByRole(AriaRole.Region, new() { Name = "Dry run" });
        await Expect(dryRun.Locator("#dry-run-count")).ToHaveTextAsync($"{ids.Length} messages would be replayed.");
        await Expect(dryRun.GetByRole(AriaRole.Row).Filter(new() { HasText = "signup-state" }).GetByRole(AriaRole.Cell))
            .ToHaveTextAsync(ids.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Accessibility.AssertNoSeriousViolationsAsync(page, "replay dry run (embedded)");

        await page.GetByLabel(new Regex("^Reason")).FillAsync("Upstream fixed the signupId format");
        // One a second: the job outlasts the page's first render, so the page's own polling is what shows it completed.
        // Unlimited, the job was usually done before the page rendered, and the polling went untested until CI met
        // the other case (running, 0 % for 90 s: the host served the page's script empty, and the browser refused it).
        await page.GetByLabel(new Regex("^Rate limit")).FillAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start the replay" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/replays/[0-9a-fA-F-]{36}"));
        try
        {
            await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Status completed, 100 % done.");
        }
        catch (PlaywrightException stale)
        {
            // Whether the job or only the page stood still is in the API's view.
            var jobId = Regex.Match(page.Url, "/replays/([0-9a-fA-F-]{36})").Groups[1].Value;
            Assert.Fail($"{stale.Message}\nThe job's items as the API has them: {await embedded.GetTextAsync($"/api/v1/dead-letters/replays/{jobId}/items")}\n{embedded.Backbone.Logs}");
        }

        await Accessibility.AssertNoSeriousViolationsAsync(page, "replay job (embedded)");
    }

    [Fact]
    public async Task A_malformed_signup_is_edited_in_the_browser_refused_next_to_the_field_then_replayed_and_consumed()
    {
        var id = await embedded.SendMalformedSignupAsync();
        var (context, page) = await embedded.SignInWithMintedTokenAsync("embedded-editor");
        await using var _ = context;
        await page.GotoAsync($"/messages/{id}");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "message (embedded)");

        await page.GetByRole(AriaRole.Button, new() { Name = "Edit and replay" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/messages/{id}/edit"));
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Fill in the current values") }).ClickAsync();
        var signupId = page.GetByLabel(new Regex("^signupId"));
        await Expect(signupId).ToHaveValueAsync("not-a-guid");

        await EditAndReplaySpecs.SubmitEditAsync(page, signupId, "not-a-guid-either", "signupId typo upstream");

        await Expect(signupId).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(signupId).ToHaveAccessibleDescriptionAsync(new Regex(@"^Not a valid SignupRequested: .*Path: \$\.signupId"));
        await Accessibility.AssertNoSeriousViolationsAsync(page, "edit and replay, refused (embedded)");

        var corrected = Guid.NewGuid();
        await EditAndReplaySpecs.SubmitEditAsync(page, signupId, corrected.ToString(), "signupId was not a GUID");

        await Expect(page).ToHaveURLAsync(new Regex($"/messages/{id}$"));
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Summary" }).Locator("dt:text-is('Status') + dd")).ToHaveTextAsync("replayed");
        // The workflow consumed the corrected copy: the look-up finds the signup (polled: it is consumed asynchronously).
        var found = page.GetByRole(AriaRole.Region, new() { Name = $"Signup {corrected}" });
        await Eventually.HoldsAsync(
            async () =>
            {
                await page.GotoAsync($"/lookup?signupId={corrected}");
                return !await found.GetByRole(AriaRole.Alert).IsVisibleAsync() && (await found.TextContentAsync() ?? "").Contains("newcomer@example.com", StringComparison.Ordinal);
            },
            Chromium.Patience,
            () => $"The edited signup {corrected} was not consumed by the signup workflow.\n{embedded.Backbone.Logs}");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "signup look-up (embedded)");
    }
}
