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
        // A double submit, made certain: the same filled-in form (its antiforgery token and its one idempotency key)
        // posted twice at once with the browser's session, then submitted by the browser itself. A double-click alone
        // is not: Chromium often coalesced it into one POST (CI run 6: "sent 1 POST(s), not two").
        var form = page.Locator("form").Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = "Start the replay" }) });
        var fields = await form.EvaluateAsync<Dictionary<string, string>>("f => Object.fromEntries(new FormData(f))");
        var action = await form.EvaluateAsync<string>("f => f.action");
        var resubmits = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ =>
        {
            var data = context.APIRequest.CreateFormData();
            foreach (var (name, value) in fields)
            {
                data.Set(name, value);
            }

            return context.APIRequest.PostAsync(action, new() { Form = data, MaxRedirects = 0 });
        }));
        await page.GetByRole(AriaRole.Button, new() { Name = "Start the replay" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/replays/[0-9a-fA-F-]{36}"));
        // The job page polls until the job is done: no reload needed.
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Status completed, 100 % done.");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "replay job");

        // And a resubmission after the job has finished (a retried request, the back button): nothing is dead any more,
        // so the dry run finds 0 — CI at load 45 saw the browser's own submit land there and get "Cannot submit the form
        // 'replay' because no form on the page currently has that name" instead of its job.
        var late = context.APIRequest.CreateFormData();
        foreach (var (name, value) in fields)
        {
            late.Set(name, value);
        }

        resubmits = [.. resubmits, await context.APIRequest.PostAsync(action, new() { Form = late, MaxRedirects = 0 })];

        // Every submission was answered with the one job the browser shows.
        Assert.All(resubmits, x =>
        {
            Assert.True(x.Status is >= 300 and < 400, $"A resubmission was answered {x.Status} {x.StatusText}, not sent to its job.");
            Assert.Equal(new Uri(page.Url).AbsolutePath, new Uri(new Uri(action), x.Headers["location"]).AbsolutePath);
        });
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
