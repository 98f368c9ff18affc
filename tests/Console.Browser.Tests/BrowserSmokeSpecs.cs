using Microsoft.Playwright;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>
/// The browser tier's own plumbing, without any host: Debian's chromium starts through Playwright's shipped driver,
/// renders a page and runs script, and the accessibility check refuses a page that breaks a serious rule.
/// </summary>
public sealed class BrowserSmokeSpecs : IAsyncLifetime
{
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync() => (_playwright, _browser) = await Chromium.LaunchAsync();

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }

    [Fact]
    public async Task Debian_chromium_renders_a_page_and_runs_its_script()
    {
        await using var context = await _browser.NewContextAsync();
        var page = await Chromium.NewPageAsync(context);
        await page.SetContentAsync("""
            <!doctype html><html lang="en"><head><title>Tiny</title></head>
            <body><main><h1>Tiny page</h1><button id="go" type="button">Count</button><p id="out">0</p></main>
            <script>document.getElementById('go').addEventListener('click', () => document.getElementById('out').textContent = '1');</script>
            </body></html>
            """);

        await page.GetByRole(AriaRole.Button, new() { Name = "Count" }).ClickAsync();

        await Assertions.Expect(page.Locator("#out")).ToHaveTextAsync("1");
        Assert.Contains("Chrom", _browser.BrowserType.Name, StringComparison.OrdinalIgnoreCase);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "tiny page");
    }

    [Fact]
    public async Task The_accessibility_check_refuses_a_page_with_a_critical_violation()
    {
        await using var context = await _browser.NewContextAsync();
        var page = await Chromium.NewPageAsync(context);
        // An image without alt text is critical in axe-core; a check that passed this page would pass anything.
        await page.SetContentAsync("""
            <!doctype html><html lang="en"><head><title>Broken</title></head>
            <body><main><h1>Broken</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>
            """);

        var refusal = await Assert.ThrowsAnyAsync<Exception>(() => Accessibility.AssertNoSeriousViolationsAsync(page, "broken page"));

        Assert.Contains("image-alt", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_check_refuses_a_page_whose_script_the_browser_would_not_run()
    {
        await using var context = await _browser.NewContextAsync();
        var page = await Chromium.NewPageAsync(context);
        // The embedded console's failure, served by a route: a script answered without its Content-Type under nosniff.
        await page.RouteAsync("http://refused.test/**", route => route.Request.Url.EndsWith("/app.js", StringComparison.Ordinal)
            ? route.FulfillAsync(new() { Status = 200, Body = "document.title = 'ran';", Headers = new Dictionary<string, string> { ["X-Content-Type-Options"] = "nosniff" } })
            : route.FulfillAsync(new()
            {
                Status = 200,
                ContentType = "text/html",
                Body = """<!doctype html><html lang="en"><head><title>Refused</title></head><body><main><h1>Refused</h1></main><script src="/app.js"></script></body></html>""",
            }));
        await page.GotoAsync("http://refused.test/");

        var refusal = await Assert.ThrowsAnyAsync<Exception>(() => Accessibility.AssertNoSeriousViolationsAsync(page, "refused page"));

        Assert.Contains("the browser refused 1 of the page's resources", refusal.Message, StringComparison.Ordinal);
        Assert.Equal("Refused", await page.TitleAsync());
    }
}
