using System.Net;

namespace EventBackbone.Console.Tests;

/// <summary>
/// How an operator signs in: OpenID Connect (code + PKCE) where an authority is set; the token-pasting page only in
/// Development (and embedded mode); the token kept on the server and forwarded as the operator's bearer token.
/// </summary>
public sealed class SignInSpecs : IAsyncLifetime
{
    private FakeFrontDoor _frontDoor = null!;

    public async Task InitializeAsync() => _frontDoor = await FakeFrontDoor.StartAsync();

    public async Task DisposeAsync() => await _frontDoor.DisposeAsync();

    [Fact]
    public async Task Outside_development_the_dev_sign_in_does_not_exist()
    {
        await using var console = new ConsoleFactory(_frontDoor.Address, "Production", WithAuthority());
        var browser = console.CreateBrowser();

        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/sign-in/dev")).StatusCode);
        // A POST is answered as a POST to any path that does not exist, and signs nobody in.
        var post = await browser.PostAsync("/sign-in/dev", Browser.Form(("Token", Browser.Token("ada", "dead-letters:read"))));
        var nowhere = await browser.PostAsync("/no-such-page", Browser.Form(("Token", Browser.Token("ada", "dead-letters:read"))));
        Assert.Equal(nowhere.StatusCode, post.StatusCode);
        Assert.False(post.IsSuccessStatusCode || post.Headers.Contains("Set-Cookie"));
    }

    [Theory]
    [InlineData("/%09/evil.example")]
    [InlineData("/%0a/evil.example")]
    [InlineData("/%5c%5cevil.example")]
    [InlineData("https://evil.example/")]
    public async Task The_page_after_sign_in_never_sends_the_operator_to_another_site(string returnUrl)
    {
        await using var console = new ConsoleFactory(_frontDoor.Address);
        var browser = console.CreateBrowser();

        // Browsers drop tabs and newlines from a URL, so "/\t/evil" was followed as "//evil": another site.
        var page = await (await browser.GetAsync($"/signed-in?returnUrl={returnUrl}")).Content.ReadAsStringAsync();

        Assert.DoesNotContain("evil.example", page, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_pasted_token_whose_expiry_is_past_the_calendar_signs_in_for_a_working_day_at_most()
    {
        await using var console = new ConsoleFactory(_frontDoor.Address);
        var browser = console.CreateBrowser();

        // exp is unverified here (the APIs verify the token): a year-33658 "exp" threw on the way to the session (500).
        var signIn = await Browser.SignInAsync(browser, Browser.Token("ada", "dead-letters:read", expires: 999_999_999_999));

        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
    }

    [Fact]
    public async Task With_an_authority_a_visit_without_a_session_goes_to_the_identity_provider_with_a_PKCE_challenge()
    {
        await using var console = new ConsoleFactory(_frontDoor.Address, "Production", WithAuthority());
        var browser = console.CreateBrowser();

        var response = await browser.GetAsync("/messages?status=dead");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.StartsWith(new Uri(_frontDoor.Address, "/authorize").ToString(), location, StringComparison.Ordinal);
        Assert.Contains("response_type=code", location, StringComparison.Ordinal);
        Assert.Contains("client_id=backbone-console", location, StringComparison.Ordinal);
        Assert.Matches("code_challenge=[A-Za-z0-9_-]{43}", location);
        Assert.Contains("code_challenge_method=S256", location, StringComparison.Ordinal);
        Assert.Contains("dead-letters%3Areplay", location, StringComparison.Ordinal);
    }

    /// <summary>
    /// Behind a TLS-terminating proxy the console sees plain HTTP: the identity provider was sent back to an
    /// <c>http://…/signin-oidc</c> address (refused by any real provider, or a token over plain text). The proxy's
    /// <c>X-Forwarded-Proto</c> is believed from the proxies named in <c>Backbone:Console:TrustedProxies</c> only.
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", "https")]
    [InlineData("10.0.0.0/8", "10.1.2.3", "https")]
    [InlineData("127.0.0.1", "10.1.2.3", "http")]
    [InlineData(null, "127.0.0.1", "http")]
    public async Task The_sign_in_returns_to_the_scheme_a_trusted_proxy_forwarded_and_ignores_anyone_else(string? trustedProxy, string caller, string scheme)
    {
        var settings = WithAuthority();
        settings["Backbone:Console:TrustedProxies:0"] = trustedProxy;
        await using var console = new ConsoleFactory(_frontDoor.Address, "Production", settings, System.Net.IPAddress.Parse(caller));
        var browser = console.CreateBrowser();
        browser.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");

        var response = await browser.GetAsync("/messages?status=dead");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Contains($"redirect_uri={Uri.EscapeDataString($"{scheme}://localhost/signin-oidc")}&", response.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_session_cookie_is_http_only_same_site_strict_and_does_not_carry_the_access_token()
    {
        await using var console = new ConsoleFactory(_frontDoor.Address);
        var browser = console.CreateBrowser();
        // A large token: in the cookie it would make it at least this large (and split it into chunks).
        var token = Browser.Token("ada", "dead-letters:read", padding: 4000);

        var signIn = await Browser.SignInAsync(browser, token);

        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var session = Assert.Single(signIn.Headers.GetValues("Set-Cookie"), x => x.StartsWith("backbone-console", StringComparison.Ordinal)
            && !x.StartsWith("backbone-console-antiforgery", StringComparison.Ordinal));
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", session, StringComparison.OrdinalIgnoreCase);
        var value = session.Split(';')[0];
        Assert.True(value.Length < 1000, $"The session cookie is {value.Length} characters: it holds more than a key to a server-side ticket.");
        Assert.DoesNotContain(token.Split('.')[1][..40], value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_signed_in_operators_token_is_forwarded_to_the_front_door_as_bearer()
    {
        await using var console = new ConsoleFactory(_frontDoor.Address);
        var browser = console.CreateBrowser();
        var token = Browser.Token("ada", "dead-letters:read");
        await Browser.SignInAsync(browser, token);

        var home = await browser.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, home.StatusCode);
        Assert.Contains("signups_error", await home.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains($"Bearer {token}", _frontDoor.AuthorizationHeaders);
        Assert.DoesNotContain(_frontDoor.AuthorizationHeaders, string.IsNullOrEmpty);
    }

    [Fact]
    public async Task Signing_out_ends_the_session_on_the_server()
    {
        await using var console = new ConsoleFactory(_frontDoor.Address);
        var browser = console.CreateBrowser();
        await Browser.SignInAsync(browser, Browser.Token("ada", "dead-letters:read"));
        var home = await browser.GetStringAsync("/");

        var signOut = await browser.PostAsync("/sign-out", Browser.Form(("__RequestVerificationToken", Browser.AntiforgeryToken(home))));

        Assert.Equal(HttpStatusCode.OK, signOut.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/")).StatusCode);
    }

    private Dictionary<string, string?> WithAuthority() => new()
    {
        ["Backbone:Auth:Authority"] = _frontDoor.Address.ToString(),
        // The in-test discovery document is served over plain HTTP.
        ["Backbone:Auth:AllowInsecureAuthority"] = "true",
        ["Backbone:Console:ClientId"] = "backbone-console",
    };
}
