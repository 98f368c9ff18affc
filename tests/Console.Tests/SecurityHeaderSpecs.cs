using System.Net;

namespace EventBackbone.Console.Tests;

/// <summary>Every console response says what the browser may run and load: only the console's own files.</summary>
public sealed class SecurityHeaderSpecs : IAsyncLifetime
{
    private const string ExpectedPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'self'";

    private FakeFrontDoor _frontDoor = null!;
    private ConsoleFactory _console = null!;

    public async Task InitializeAsync()
    {
        _frontDoor = await FakeFrontDoor.StartAsync();
        _console = new ConsoleFactory(_frontDoor.Address);
    }

    public async Task DisposeAsync()
    {
        await _console.DisposeAsync();
        await _frontDoor.DisposeAsync();
    }

    [Fact]
    public async Task Pages_redirects_and_files_carry_the_content_security_policy_nosniff_and_no_referrer()
    {
        var browser = _console.CreateBrowser();
        var responses = new List<(string What, HttpResponseMessage Response)>
        {
            ("redirect to sign-in", await browser.GetAsync("/")),
            ("sign-in page", await browser.GetAsync("/sign-in/dev")),
            ("stylesheet", await browser.GetAsync("/console-assets/console.css")),
            ("script", await browser.GetAsync("/console-assets/console.js")),
        };
        await Browser.SignInAsync(browser, Browser.Token("ada", "dead-letters:read"));
        responses.Add(("home page", await browser.GetAsync("/")));

        Assert.Equal(HttpStatusCode.Redirect, responses[0].Response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, responses[^1].Response.StatusCode);
        foreach (var (what, response) in responses)
        {
            Assert.True(response.Headers.TryGetValues("Content-Security-Policy", out var policy), $"{what}: no Content-Security-Policy");
            Assert.Equal(ExpectedPolicy, Assert.Single(policy));
            Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
            Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        }
    }

    [Fact]
    public async Task The_page_loads_no_script_or_style_from_anywhere_but_the_console_itself()
    {
        var browser = _console.CreateBrowser();
        await Browser.SignInAsync(browser, Browser.Token("ada", "dead-letters:read"));

        var home = await browser.GetStringAsync("/");

        Assert.Contains("<script src=\"/console-assets/console.", home, StringComparison.Ordinal);
        Assert.DoesNotContain("blazor.web.js", home, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", home, StringComparison.Ordinal);
        Assert.DoesNotContain("style=", home, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", home, StringComparison.Ordinal);
    }
}
