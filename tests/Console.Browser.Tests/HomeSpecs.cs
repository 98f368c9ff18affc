using EventBackbone.TestInfrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>The triage home, as an operator signed in with a pasted dev token sees it.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class HomeSpecs(ConsoleFixture console)
{
    [Fact]
    public async Task Signing_in_shows_the_dead_letters_waiting_on_a_queue_and_the_home_screen_is_accessible()
    {
        var queue = DeadLetterSeeder.UniqueQueue("home");
        await console.Seeder.SeedAsync(queue,
            new Failure("System.TimeoutException", "The payment gateway did not answer"),
            new Failure("System.TimeoutException", "The payment gateway did not answer"));
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;

        await page.GotoAsync("/");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Triage", Level = 1 })).ToBeVisibleAsync();
        var waiting = page.GetByRole(AriaRole.Region, new() { Name = "Waiting per queue" });
        // The capture stores the failures on the error queue; they wait to be replayed to the queue itself.
        var row = waiting.GetByRole(AriaRole.Row).Filter(new() { HasText = queue });
        await Expect(row.GetByRole(AriaRole.Cell)).ToHaveTextAsync("2");
        await Expect(page.GetByText("Signed in as")).ToContainTextAsync("operator");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "home");
        // README shows the console as this run renders it.
        var screenshot = Path.Combine(RepositoryLayout.Root, "docs", "images", "console.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
    }

    [Fact]
    public async Task Without_a_sign_in_the_console_sends_the_browser_to_sign_in()
    {
        await using var context = await console.Browser.NewContextAsync(new() { BaseURL = console.Console.BaseAddress.ToString() });
        var page = await Chromium.NewPageAsync(context);

        await page.GotoAsync("/groups?status=dead");

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/sign-in"));
        await Expect(page.GetByLabel("Bearer token")).ToBeVisibleAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(page, "dev sign-in");
    }
}
