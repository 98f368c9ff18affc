using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>The audit screen filters by actor and action, in a URL that survives a reload.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class AuditSpecs(ConsoleFixture console)
{
    [Fact]
    public async Task The_audit_screen_filters_by_actor_and_action()
    {
        var queue = DeadLetterSeeder.UniqueQueue("audit");
        var ids = await console.Seeder.SeedAsync(queue, new Failure("System.TimeoutException", "The warehouse did not answer"));
        // Two kinds of audited act on the message by the operator: a body read and an archive.
        var api = await console.FrontDoorAsAsync(console.OperatorToken);
        await using var _ = api;
        Assert.Equal(200, (await api.GetAsync($"/api/v1/dead-letters/{ids[0]}/body")).Status);
        Assert.Equal(200, (await api.PostAsync($"/api/v1/dead-letters/{ids[0]}/archive", new() { DataObject = new { reason = "audit spec" } })).Status);
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var __ = context;

        await page.GotoAsync($"/audit?messageId={ids[0]}");
        await page.GetByLabel(new Regex("^Actor")).FillAsync("operator");
        await page.GetByLabel(new Regex("^Action")).FillAsync("archive");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("actor=operator"));
        await Expect(page).ToHaveURLAsync(new Regex("action=archive"));
        var rows = page.Locator("main table tbody tr");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows).ToContainTextAsync("archive");
        await page.ReloadAsync();
        await Expect(rows).ToHaveCountAsync(1);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "audit");
    }
}
