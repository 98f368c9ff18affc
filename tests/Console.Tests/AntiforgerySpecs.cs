using System.Net;

namespace EventBackbone.Console.Tests;

/// <summary>A POST without the page's antiforgery token is refused: another site cannot make the operator's browser act.</summary>
public sealed class AntiforgerySpecs : IAsyncLifetime
{
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
    public async Task A_sign_in_post_without_the_token_is_refused_and_signs_nobody_in()
    {
        var browser = _console.CreateBrowser();
        await browser.GetAsync("/sign-in/dev");

        var response = await browser.PostAsync("/sign-in/dev", Browser.Form(("Token", Browser.Token("mallory", "dead-letters:delete")), ("ReturnUrl", "/")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(x => x.StartsWith("backbone-console=", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task A_sign_out_post_without_the_token_is_refused_and_the_operator_stays_signed_in()
    {
        var browser = _console.CreateBrowser();
        await Browser.SignInAsync(browser, Browser.Token("ada", "dead-letters:read"));

        var response = await browser.PostAsync("/sign-out", Browser.Form());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/")).StatusCode);
    }

    [Fact]
    public async Task A_page_form_post_without_the_token_is_refused_before_any_api_call()
    {
        var browser = _console.CreateBrowser();
        await Browser.SignInAsync(browser, Browser.Token("ada", "dead-letters:edit"));
        var before = _frontDoor.AuthorizationHeaders.Count;

        var response = await browser.PostAsync(
            "/groups/abc/note",
            Browser.Form(("_handler", "group-note"), ("Input.Text", "looking"), ("Input.Investigating", "true")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(before, _frontDoor.AuthorizationHeaders.Count);
    }
}
