using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>A group replay as an operator does it: a dry run first, then a reason, then a job page that reaches 100 %.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class ReplaySpecs(ConsoleFixture console)
{
    private static readonly Failure OutOfStock = new("Shop.Orders.OutOfStockException", "Item 42 is out of stock");
    private static readonly Failure BadTotal = new("System.FormatException", "The order total is not a number", "at Shop.Orders.OrderConsumer.ParseTotal(String total)");

    [Fact]
    public async Task A_group_replay_dry_run_shows_the_exact_count_and_queue_and_a_double_submit_makes_one_job_that_replays_each_message_once()
    {
        var queue = DeadLetterSeeder.UniqueQueue("replay");
        var ids = await console.Seeder.SeedAsync(queue, OutOfStock, OutOfStock, BadTotal, OutOfStock);
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;
        await page.GotoAsync($"/groups?status=dead&queue={queue}");

        await GroupSpecs.Group(page, OutOfStock).GetByRole(AriaRole.Button, new() { Name = "Replay this group" }).ClickAsync();

        // The dry run: exactly the group's three messages, to their failing queue only.
        await Expect(page).ToHaveURLAsync(new Regex("/replay/new\\?.*fingerprint="));
        var dryRun = page.GetByRole(AriaRole.Region, new() { Name = "Dry run" });
        await Expect(dryRun.Locator("#dry-run-count")).ToHaveTextAsync("3 messages would be replayed.");
        await Expect(dryRun.GetByRole(AriaRole.Row).Filter(new() { HasText = queue }).GetByRole(AriaRole.Cell)).ToHaveTextAsync("3");
        await Expect(dryRun).ToContainTextAsync("no other subscriber");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "replay dry run");

        var reason = $"Stock feed fixed ({Guid.NewGuid():N})";
        await page.GetByLabel(new Regex("^Reason")).FillAsync(reason);
        // A double-click on submit: two POSTs with the form's one idempotency key (counted, so the spec cannot pass on
        // a browser that sent only one).
        var posts = 0;
        page.Request += (_, request) =>
        {
            if (request.Method == "POST" && request.Url.Contains("/replay/new", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref posts);
            }
        };
        await page.GetByRole(AriaRole.Button, new() { Name = "Start the replay" }).DblClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/replays/[0-9a-fA-F-]{36}"));
        // The job page polls until the job is done: no reload needed.
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Status completed, 100 % done.");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "replay job");

        Assert.True(posts >= 2, $"The double-click sent {posts} POST(s), not two: the double submit was not tested.");
        var store = console.Database("DeadLetters");
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM replay_jobs WHERE reason = @reason", ("reason", reason)));
        // Each of the three replayed once: three messages wait in the queue (nothing consumes it), none twice in the ledger.
        Assert.Equal(3, await console.Seeder.DepthAsync(queue));
        Assert.Equal(3, await store.ScalarAsync<long>(
            "SELECT count(DISTINCT message_id) FROM replay_ledger WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())));
        Assert.Equal(3, await store.ScalarAsync<long>(
            "SELECT count(*) FROM replay_ledger WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())));

        await page.GotoAsync("/replays");
        await Expect(page.Locator("main")).ToContainTextAsync(reason);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "replay jobs");
    }
}
