using System.Net;
using System.Text.RegularExpressions;

namespace EventBackbone.Console.Tests;

/// <summary>What the pages make of the API's answers: refusals and field errors where the operator looks, no body unasked.</summary>
public sealed partial class PageSpecs : IAsyncLifetime
{
    private FakeFrontDoor _frontDoor = null!;
    private ConsoleFactory _console = null!;
    private HttpClient _browser = null!;

    public async Task InitializeAsync()
    {
        _frontDoor = await FakeFrontDoor.StartAsync();
        _console = new ConsoleFactory(_frontDoor.Address);
        _browser = _console.CreateBrowser();
        await Browser.SignInAsync(_browser, Browser.Token("ada", "dead-letters:read"));
    }

    public async Task DisposeAsync()
    {
        await _console.DisposeAsync();
        await _frontDoor.DisposeAsync();
    }

    [Fact]
    public async Task Opening_a_message_does_not_read_its_body_and_show_body_does()
    {
        var page = await _browser.GetStringAsync($"/messages/{FakeFrontDoor.MessageId}");

        Assert.DoesNotContain(_frontDoor.Calls, call => call.EndsWith("/body", StringComparison.Ordinal));
        Assert.DoesNotContain("body-text", page, StringComparison.Ordinal);

        var shown = await _browser.PostAsync(
            $"/messages/{FakeFrontDoor.MessageId}/body",
            Browser.Form(("__RequestVerificationToken", Browser.AntiforgeryToken(page)), ("_handler", "show-body")));

        Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
        Assert.Contains("body-text", await shown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single(_frontDoor.Calls, call => call == $"GET /api/v1/dead-letters/{FakeFrontDoor.MessageId}/body");
    }

    [Fact]
    public async Task A_field_error_from_the_api_is_shown_next_to_its_field()
    {
        var form = await _browser.GetStringAsync("/groups/fp-1/note");

        var answer = await _browser.PostAsync("/groups/fp-1/note", Browser.Form(
            ("__RequestVerificationToken", Browser.AntiforgeryToken(form)), ("_handler", "group-note"), ("Input.Text", "far too long")));

        var html = await answer.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Matches(FieldThenError(), html);
        Assert.Contains("far too long", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Actions_the_operators_scopes_lack_are_disabled_with_the_scope_they_need()
    {
        var list = await _browser.GetStringAsync("/messages?status=dead&queue=signups_error");

        Assert.Matches("<button[^>]*disabled[^>]*>Replay selected</button>", list);
        Assert.Contains("Your sign-in lacks the scope dead-letters:replay.", list, StringComparison.Ordinal);
        Assert.Matches("<button[^>]*disabled[^>]*>Delete selected</button>", list);
        Assert.Contains("<strong>1</strong> dead messages match", list, StringComparison.Ordinal);
    }

    /// <summary>
    /// The notice after a bulk action is built from its counts, never from text in the URL: a link carrying
    /// "?done=Your session expired, call …" would otherwise put an attacker's words in the console's own voice.
    /// </summary>
    [Fact]
    public async Task The_notice_after_an_action_says_only_what_the_console_words_itself()
    {
        var forged = await _browser.GetStringAsync("/messages?status=dead&done=" + Uri.EscapeDataString("Session expired: call 555-0100 with your token"));
        var counted = await _browser.GetStringAsync("/messages?status=dead&done=delete&changed=2&matched=3");

        Assert.DoesNotContain("555-0100", forged, StringComparison.Ordinal);
        Assert.DoesNotContain("class=\"notice\"", forged, StringComparison.Ordinal);
        Assert.Contains("Delete: 2 of 3 matching messages changed.", counted, StringComparison.Ordinal);
    }

    [GeneratedRegex("aria-describedby=\"note-text-error\"[^>]*>far too long</textarea>\\s*<p class=\"field-error\" id=\"note-text-error\">A note is at most 2000 characters.</p>")]
    private static partial Regex FieldThenError();
}
