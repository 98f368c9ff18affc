using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>One message: its failure, headers and stack at once; its body only when asked, and that ask is audited.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class MessageSpecs(ConsoleFixture console)
{
    [Fact]
    public async Task The_message_page_shows_history_headers_and_stack_and_the_body_only_on_request_audited_once()
    {
        var queue = DeadLetterSeeder.UniqueQueue("message");
        var id = (await console.Seeder.SeedAsync(queue, new Failure("Shop.Orders.OutOfStockException", "Item 42 is out of stock")))[0];
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;

        await page.GotoAsync($"/messages/{id}");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToContainTextAsync(id.ToString());
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Failure history" }).Locator("tbody tr")).ToHaveCountAsync(1);
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Failure history" })).ToContainTextAsync($"{queue}_error");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Headers" })).ToContainTextAsync("MT-Fault-ExceptionType");
        await Expect(page.GetByLabel("Stack trace")).ToContainTextAsync("Shop.Orders.OrderConsumer.Consume");
        // The body's content (its order total) is nowhere on the page until asked for.
        await Expect(page.Locator("main")).Not.ToContainTextAsync("\"total\"");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "message");
        Assert.Equal(0, await BodyReadsAsync(id));

        await page.GetByRole(AriaRole.Button, new() { Name = "Show body" }).ClickAsync();

        await Expect(page.GetByLabel("Message body")).ToContainTextAsync("\"total\":\"12.50\"");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "message body");

        // The audit screen shows exactly one body read of it, by this operator; opening the page was none.
        await page.GotoAsync($"/audit?messageId={id}");
        var reads = page.Locator("main table tbody tr").Filter(new() { HasText = "read-body" });
        await Expect(reads).ToHaveCountAsync(1);
        await Expect(reads).ToContainTextAsync("operator");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "audit");
        Assert.Equal(1, await BodyReadsAsync(id));
    }

    [Fact]
    public async Task Archive_with_a_reason_then_restore_moves_the_message_between_the_tabs()
    {
        var queue = DeadLetterSeeder.UniqueQueue("archive");
        var id = (await console.Seeder.SeedAsync(queue, new Failure("System.TimeoutException", "The warehouse did not answer")))[0];
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;
        await page.GotoAsync($"/messages/{id}");

        await page.GetByRole(AriaRole.Button, new() { Name = "Archive", Exact = true }).ClickAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(page, "archive form");
        await page.GetByLabel(new Regex("^Reason")).FillAsync("Known warehouse outage, handled by phone");
        await page.GetByRole(AriaRole.Button, new() { Name = "Archive", Exact = true }).ClickAsync();
        // The form's answer first: going elsewhere straight after the click could abort its POST on a loaded machine.
        await Expect(page).ToHaveURLAsync(new Regex($"/messages/{id}$"));

        await page.GotoAsync($"/messages?status=archived&queue={queue}");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = id.ToString() })).ToBeVisibleAsync();
        await page.GotoAsync($"/messages?status=dead&queue={queue}");
        await Expect(page.Locator("#total")).ToContainTextAsync("0 dead messages match");

        await page.GotoAsync($"/messages/{id}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Restore", Exact = true }).ClickAsync();
        await page.GetByLabel(new Regex("^Reason")).FillAsync("Warehouse is back, replay later");
        await page.GetByRole(AriaRole.Button, new() { Name = "Restore", Exact = true }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/messages/{id}$"));

        await page.GotoAsync($"/messages?status=dead&queue={queue}");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = id.ToString() })).ToBeVisibleAsync();
        Assert.Equal(1, await console.Database("DeadLetters").ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE message_id = @id AND action = 'archive' AND actor = 'operator' AND detail LIKE '%Known warehouse outage%'", ("id", id)));
    }

    [Fact]
    public async Task Bulk_delete_with_a_reason_removes_the_selected_messages_and_leaves_the_rest()
    {
        var queue = DeadLetterSeeder.UniqueQueue("bulk");
        var failure = new Failure("System.TimeoutException", "The warehouse did not answer");
        var ids = await console.Seeder.SeedAsync(queue, failure, failure, failure);
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;
        await page.GotoAsync($"/messages?status=dead&queue={queue}");

        await page.GetByLabel($"Select message {ids[0]}").CheckAsync();
        await page.GetByLabel($"Select message {ids[1]}").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete selected" }).ClickAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(page, "bulk delete form");
        await page.GetByLabel(new Regex("^Reason")).FillAsync("Test orders from the load test");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Delete") }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/messages\\?.*done="));

        await page.GotoAsync($"/messages?status=dead&queue={queue}");
        await Expect(page.Locator("#total")).ToContainTextAsync("1 dead messages match");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = ids[2].ToString() })).ToBeVisibleAsync();
        Assert.Equal(2, await console.Database("DeadLetters").ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE message_id = ANY(@ids) AND action = 'delete' AND detail LIKE '%load test%'", ("ids", ids.ToArray())));
    }

    private async Task<long> BodyReadsAsync(Guid id) =>
        await console.Database("DeadLetters").ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE message_id = @id AND action = 'read-body'", ("id", id));
}
