using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>A read-only sign-in: it sees what it may not do disabled, and the API refuses (and audits) it when forced.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class PermissionSpecs(ConsoleFixture console)
{
    [Fact]
    public async Task A_read_only_sign_in_sees_replay_disabled_and_a_forced_replay_is_refused_403_and_audited()
    {
        var queue = DeadLetterSeeder.UniqueQueue("readonly");
        var ids = await console.Seeder.SeedAsync(queue, new Failure("System.TimeoutException", "The warehouse did not answer"));
        var (context, page) = await console.SignInAsync(console.ReadOnlyToken);
        await using var _ = context;

        await page.GotoAsync($"/groups?status=dead&queue={queue}");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Replay this group" })).ToBeDisabledAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save note" })).ToBeDisabledAsync();
        await page.GotoAsync($"/messages/{ids[0]}");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Replay", Exact = true })).ToBeDisabledAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true })).ToBeDisabledAsync();
        // Reading is allowed.
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Show body" })).ToBeEnabledAsync();

        await page.GotoAsync("/me");
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "dead-letters:replay" }).GetByRole(AriaRole.Cell).First).ToHaveTextAsync("no");
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "dead-letters:read" }).GetByRole(AriaRole.Cell).First).ToHaveTextAsync("yes");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "permissions");

        // Forced past the disabled button: the same token straight at the front door.
        var api = await console.FrontDoorAsAsync(console.ReadOnlyToken);
        await using var __ = api;
        var forced = await api.PostAsync("/api/v1/dead-letters/replay", new()
        {
            DataObject = new { messageIds = ids, reason = "forced by a read-only operator" },
        });
        Assert.Equal(403, forced.Status);
        Assert.Equal(1, await console.Database("DeadLetters").ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-403' AND actor = 'auditor'"));
        Assert.Equal(0, await console.Seeder.DepthAsync(queue));
    }

    [Fact]
    public async Task The_permissions_page_lists_what_an_operator_may_do()
    {
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;

        await page.GotoAsync("/me");

        foreach (var scope in ConsoleFixture.AllDeadLetterScopes.Split(' '))
        {
            await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = scope }).GetByRole(AriaRole.Cell).First).ToHaveTextAsync("yes");
        }

        await Expect(page.Locator("main dl")).ToContainTextAsync("operator");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "permissions");
    }
}
