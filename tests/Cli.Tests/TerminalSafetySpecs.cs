using System.Net;
using System.Text.Json;

namespace EventBackbone.Cli.Tests;

/// <summary>
/// A dead letter's fields are whatever a failing producer or a hostile caller put there, and the tool prints them to an
/// operator's terminal holding a token: nothing it prints may drive the terminal, and the token goes nowhere else.
/// </summary>
public sealed class TerminalSafetySpecs : IDisposable
{
    // OSC 0 sets the window title (terminals have answered some OSC/CSI queries into the input line); CSI 2J clears the screen.
    private const string TitleSequence = "\u001b]0;pwned\u0007";
    private const string ClearScreen = "\u001b[2J";
    private const string Hostile = "reset" + TitleSequence + " by" + ClearScreen + " peer\u009b31m\u0008!";

    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task A_dead_letter_whose_fields_hold_terminal_sequences_is_listed_and_shown_without_them()
    {
        var summary = Samples.Summary(queue: JsonEncodedText.Encode(Hostile).ToString(), exceptionMessage: JsonEncodedText.Encode(Hostile).ToString());
        var detail = $$"""
            {"summary":{{summary}},"correlationId":null,"stackTrace":{{JsonSerializer.Serialize("at X" + ClearScreen)}},
             "consumerType":{{JsonSerializer.Serialize("Consumer" + TitleSequence)}},"host":null,"contentType":"application/json",
             "bodyLength":20,
             "headers":{{JsonSerializer.Serialize("{\"X-Evil" + JsonEncodedText.Encode(ClearScreen) + "\":\"v" + JsonEncodedText.Encode(TitleSequence) + "\"}")}},
             "failures":[{"failedAt":"2026-11-28T08:00:00Z","sourceQueue":"orders_error","exceptionType":"E","exceptionMessage":{{JsonSerializer.Serialize(Hostile)}},"host":null}],
             "replays":[]}
            """;
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page(null, null, summary)).Respond(HttpStatusCode.OK, detail)
            .Respond(HttpStatusCode.OK, $$"""{"messageId":"{{Samples.Id}}","body":{{JsonSerializer.Serialize("not json " + TitleSequence + ClearScreen)}}}""")
            .Respond(HttpStatusCode.OK, $$"""[{"id":1,"at":"2026-11-28T09:00:00Z","actor":{{JsonSerializer.Serialize("mallory" + TitleSequence)}},"action":"refused-401","messageId":null,"detail":{{JsonSerializer.Serialize(Hostile)}}}]""")
            .Problem(HttpStatusCode.Conflict, "Not in that state", JsonEncodedText.Encode("nope" + ClearScreen).ToString());

        var list = await _cli.RunAsync("dead-letters", "list");
        var show = await _cli.RunAsync("dead-letters", "show", Samples.Id, "--body");
        var audit = await _cli.RunAsync("dead-letters", "audit");
        var refused = await _cli.RunAsync("dead-letters", "archive", Samples.Id);

        foreach (var printed in new[] { list.Out, show.Out, audit.Out, refused.Error })
        {
            AssertInert(printed);
        }

        // What remains readable stays: only the sequences are gone.
        Assert.Contains("reset by peer", list.Out, StringComparison.Ordinal);
        Assert.Contains("reset by peer", show.Out, StringComparison.Ordinal);
        Assert.Contains("mallory", audit.Out, StringComparison.Ordinal);
        Assert.Contains("nope", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_output_carries_control_characters_escaped_and_the_value_intact()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page(null, null, Samples.Summary(exceptionMessage: JsonEncodedText.Encode(Hostile).ToString())));

        var result = await _cli.RunAsync("dead-letters", "list", "--json");

        AssertNoControlCharacters(result.Out);
        Assert.Equal(Hostile, JsonDocument.Parse(result.Out).RootElement.GetProperty("items")[0].GetProperty("exceptionMessage").GetString());
    }

    [Fact]
    public async Task A_replay_job_location_on_another_origin_is_not_sent_the_token()
    {
        _cli.Environment["BACKBONE_TOKEN"] = "secret-token";
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("running", 2, 0), location: "http://evil.example/api/v1/dead-letters/replays/" + Samples.JobId)
            .Respond(HttpStatusCode.OK, Samples.Job("completed", 2, 2));

        var result = await _cli.RunAsync("dead-letters", "replay", Samples.Id, Samples.OtherId);

        // Nothing with the token left for any origin but the one given (the stub is in-process: no request reaches the network).
        Assert.All(_cli.Api.Requests.Where(x => x.Authorization is not null), x => Assert.Equal("http://api.test:5083", x.Uri.GetLeftPart(UriPartial.Authority)));
        Assert.DoesNotContain(_cli.Api.Requests, x => x.Uri.Host == "evil.example");
        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Contains("evil.example", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sequence_split_across_writes_is_removed_whole_and_an_unterminated_one_ends_with_its_line()
    {
        using var terminal = new StringWriter();
        using var safe = new Output.TerminalSafeWriter(terminal);

        safe.Write("a\u001b[");
        safe.Write("2Jb");
        safe.WriteLine("c\u001b]8;;http://x\u0007link\u001b]8;;\u001b\\ d\u001b]0;never ended");
        safe.WriteLine("next line\r\u0000");

        Assert.Equal("ab" + "clink d" + Environment.NewLine + "next line" + Environment.NewLine, terminal.ToString());
    }

    private static void AssertInert(string printed)
    {
        AssertNoControlCharacters(printed);
        Assert.DoesNotContain("pwned", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("[2J", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("31m", printed, StringComparison.Ordinal);
    }

    private static void AssertNoControlCharacters(string printed) =>
        Assert.DoesNotContain(printed, c => c is not ('\n' or '\r' or '\t') && (char.IsControl(c) || c == '\u007f'));
}
