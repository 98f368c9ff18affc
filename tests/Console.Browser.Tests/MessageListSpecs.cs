using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>The list: status tabs, filters, text search and cursor paging with a total, all kept in a shareable URL.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class MessageListSpecs(ConsoleFixture console)
{
    [Fact]
    public async Task Tabs_filters_search_and_paging_show_the_total_and_reload_and_Back_keep_the_filters()
    {
        var queue = DeadLetterSeeder.UniqueQueue("list");
        // One page is 50: 53 of one kind make a second page of 3; 2 of another are what the text search finds.
        var timeouts = Enumerable.Repeat(new Failure("System.TimeoutException", "The warehouse did not answer"), 53).ToArray();
        var refusals = Enumerable.Repeat(new Failure("Shop.Orders.CardDeclinedException", "Card declined by the issuer", "at Shop.Orders.Payments.Charge()"), 2).ToArray();
        await console.Seeder.SeedAsync(queue, [.. timeouts, .. refusals]);
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;
        await page.GotoAsync("/messages");

        await page.GetByLabel("Queue").FillAsync(queue);
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($"queue={queue}"));
        await Expect(page.Locator("#total")).ToContainTextAsync("55 dead messages match");
        await Expect(Rows(page)).ToHaveCountAsync(50);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "messages");

        await page.GetByRole(AriaRole.Link, new() { Name = "Next page" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("cursor="));
        await Expect(Rows(page)).ToHaveCountAsync(5);
        await Expect(page.Locator("#total")).ToContainTextAsync("55 dead messages match");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Next page" })).ToHaveCountAsync(0);

        await page.GetByLabel("Search the exception message").FillAsync("declined");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(page.Locator("#total")).ToContainTextAsync("2 dead messages match");
        await Expect(Rows(page)).ToHaveCountAsync(2);
        var searched = page.Url;

        await page.ReloadAsync();
        Assert.Equal(searched, page.Url);
        await Expect(page.GetByLabel("Queue")).ToHaveValueAsync(queue);
        await Expect(page.GetByLabel("Search the exception message")).ToHaveValueAsync("declined");
        await Expect(Rows(page)).ToHaveCountAsync(2);

        await page.GetByRole(AriaRole.Navigation, new() { Name = "Status" }).GetByRole(AriaRole.Link, new() { Name = "Archived" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("status=archived"));
        await Expect(page).ToHaveURLAsync(new Regex($"queue={queue}"));
        await Expect(page.Locator("#total")).ToContainTextAsync("0 archived messages match");

        await page.GoBackAsync();
        Assert.Equal(searched, page.Url);
        await Expect(page.GetByLabel("Search the exception message")).ToHaveValueAsync("declined");
        await Expect(page.Locator("#total")).ToContainTextAsync("2 dead messages match");
        await Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Status" }).GetByRole(AriaRole.Link, new() { Name = "Dead" }))
            .ToHaveAttributeAsync("aria-current", "page");
    }

    internal static ILocator Rows(IPage page) => page.Locator("main table tbody tr");
}
