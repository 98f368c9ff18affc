using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>The groups screen: failures grouped by fingerprint, with a note and an "investigating" marker per group.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class GroupSpecs(ConsoleFixture console)
{
    private static readonly Failure OutOfStock = new("Shop.Orders.OutOfStockException", "Item 42 is out of stock");
    private static readonly Failure BadTotal = new("System.FormatException", "The order total is not a number", "at Shop.Orders.OrderConsumer.ParseTotal(String total)");

    [Fact]
    public async Task Three_failures_in_two_groups_show_as_two_groups_of_two_and_one()
    {
        var queue = DeadLetterSeeder.UniqueQueue("groups");
        await console.Seeder.SeedAsync(queue, OutOfStock, BadTotal, OutOfStock);
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;

        await page.GotoAsync($"/groups?status=dead&queue={queue}");

        var groups = page.Locator("main section.group");
        await Expect(groups).ToHaveCountAsync(2);
        await Expect(Group(page, OutOfStock).GetByRole(AriaRole.Link, new() { Name = "2 messages" })).ToBeVisibleAsync();
        await Expect(Group(page, BadTotal).GetByRole(AriaRole.Link, new() { NameRegex = new Regex("^1 messages?$") })).ToBeVisibleAsync();
        // Largest first: the API orders groups by count.
        await Expect(groups.First).ToContainTextAsync(OutOfStock.ExceptionType);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "groups");
    }

    [Fact]
    public async Task A_group_note_and_investigating_marker_are_saved_and_still_there_after_a_new_failure_arrives_in_the_group()
    {
        var queue = DeadLetterSeeder.UniqueQueue("notes");
        await console.Seeder.SeedAsync(queue, OutOfStock, BadTotal);
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;
        await page.GotoAsync($"/groups?status=dead&queue={queue}");
        var group = Group(page, OutOfStock);
        var note = $"Supplier feed is late, ticket OPS-{Random.Shared.Next(1000, 9999)}";

        await group.GetByLabel("Note for this group").FillAsync(note);
        await group.GetByLabel("Someone is investigating").CheckAsync();
        await group.GetByRole(AriaRole.Button, new() { Name = "Save note" }).ClickAsync();

        // Back on the same filtered groups screen, the note shown with who wrote it.
        await Expect(page).ToHaveURLAsync(new Regex($"/groups\\?.*queue={queue}"));
        await Expect(Group(page, OutOfStock)).ToContainTextAsync(note);
        await Expect(Group(page, OutOfStock)).ToContainTextAsync("Investigating");
        await Expect(Group(page, BadTotal)).Not.ToContainTextAsync("Investigating");

        await console.Seeder.SeedAsync(queue, OutOfStock);
        await page.ReloadAsync();

        await Expect(Group(page, OutOfStock).GetByRole(AriaRole.Link, new() { Name = "2 messages" })).ToBeVisibleAsync();
        await Expect(Group(page, OutOfStock)).ToContainTextAsync(note);
        await Expect(Group(page, OutOfStock)).ToContainTextAsync("Investigating");
        await Expect(Group(page, OutOfStock).GetByLabel("Someone is investigating")).ToBeCheckedAsync();
    }

    /// <summary>A group's section, found by its heading (the exception type).</summary>
    internal static ILocator Group(IPage page, Failure failure) =>
        page.GetByRole(AriaRole.Region, new() { NameRegex = new Regex("^" + Regex.Escape(failure.ExceptionType) + " in ") });
}
