using System.Net;
using System.Text.Json;

namespace EventBackbone.Cli.Tests;

/// <summary><c>audit</c>: its filters, and pages that follow one another by the API's cursor.</summary>
public sealed class AuditCommandSpecs : IDisposable
{
    private const string Entry = """{"id":12,"at":"2026-11-28T09:00:00Z","actor":"insider","action":"delete","messageId":null,"detail":"cleanup"}""";
    private const string OlderEntry = """{"id":11,"at":"2026-11-28T08:00:00Z","actor":"insider","action":"delete","messageId":null,"detail":"more cleanup"}""";

    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Audit_sends_its_filters_and_says_where_the_next_page_starts()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $"[{Entry}]", link: "</api/v1/dead-letters/audit?actor=insider&limit=1&cursor=c2VlbiAxMg>; rel=\"next\"");

        var result = await _cli.RunAsync(
            "dead-letters", "audit", "--actor", "insider", "--action", "delete", "--message-id", Samples.Id,
            "--from", "2026-11-28T00:00:00Z", "--to", "2026-11-29", "--limit", "1");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(
            $"/api/v1/dead-letters/audit?actor=insider&action=delete&messageId={Samples.Id}"
            + "&from=2026-11-28T00%3A00%3A00.0000000%2B00%3A00&to=2026-11-29T00%3A00%3A00.0000000%2B00%3A00&limit=1",
            Assert.Single(_cli.Api.Requests).PathAndQuery);
        Assert.Contains("cleanup", result.Out, StringComparison.Ordinal);
        // Where to go on, on stderr: stdout stays the table (or the JSON) alone.
        Assert.Contains("--cursor c2VlbiAxMg", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("cursor", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cursor_continues_where_the_last_page_ended()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $"[{OlderEntry}]");

        await _cli.RunAsync("dead-letters", "audit", "--actor", "insider", "--cursor", "c2VlbiAxMg");

        Assert.Equal("/api/v1/dead-letters/audit?actor=insider&cursor=c2VlbiAxMg", Assert.Single(_cli.Api.Requests).PathAndQuery);
    }

    [Fact]
    public async Task All_follows_the_next_links_to_the_last_page_and_prints_one_array()
    {
        const string next = "/api/v1/dead-letters/audit?action=delete&cursor=c2VlbiAxMg";
        _cli.Api.Respond(HttpStatusCode.OK, $"[{Entry}]", link: $"<{next}>; rel=\"next\"").Respond(HttpStatusCode.OK, $"[{OlderEntry}]");

        var result = await _cli.RunAsync("dead-letters", "audit", "--action", "delete", "--all", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(["/api/v1/dead-letters/audit?action=delete", next], _cli.Api.Requests.Select(x => x.PathAndQuery));
        Assert.Equal([12L, 11L], JsonDocument.Parse(result.Out).RootElement.EnumerateArray().Select(x => x.GetProperty("id").GetInt64()));
    }

    [Fact]
    public async Task A_next_link_to_another_origin_is_not_followed_with_the_token()
    {
        _cli.Environment["BACKBONE_TOKEN"] = "secret-token";
        _cli.Api.Respond(HttpStatusCode.OK, $"[{Entry}]", link: "<http://127.0.0.2:9/api/v1/dead-letters/audit?cursor=x>; rel=\"next\"")
            .Respond(HttpStatusCode.OK, "[]");

        var result = await _cli.RunAsync("dead-letters", "audit", "--all");

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Single(_cli.Api.Requests);
        Assert.Contains("127.0.0.2:9", result.Error, StringComparison.Ordinal);
    }
}
