using System.Net;

namespace EventBackbone.Cli.Tests;

/// <summary>Replaying one message, archive, restore and delete; and the connection settings every verb shares.</summary>
public sealed class ActionCommandSpecs : IDisposable
{
    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Replaying_one_id_posts_to_that_message_with_the_reason()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""{"messageId":"{{Samples.Id}}","outcome":"replayed"}""");

        var result = await _cli.RunAsync("dead-letters", "replay", Samples.Id, "--reason", "fixed the schema");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal($"/api/v1/dead-letters/{Samples.Id}/replay", request.PathAndQuery);
        Assert.Equal("application/json", request.ContentType);
        Json.Equal("""{"reason":"fixed the schema"}""", request.Body);
        Assert.Equal($"Replayed {Samples.Id}.", result.Out.Trim());
    }

    [Fact]
    public async Task Replaying_one_id_that_was_already_replayed_says_it_was_not_sent_again()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""{"messageId":"{{Samples.Id}}","outcome":"already-replayed"}""");

        var result = await _cli.RunAsync("dead-letters", "replay", Samples.Id);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("already replayed", result.Out);
        Json.Equal("{}", _cli.Api.Requests[0].Body);
    }

    [Fact]
    public async Task Replaying_one_id_with_json_prints_the_APIs_answer()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""{"messageId":"{{Samples.Id}}","outcome":"replayed"}""");

        var result = await _cli.RunAsync("dead-letters", "replay", Samples.Id, "--json");

        Json.Equal($$"""{"messageId":"{{Samples.Id}}","outcome":"replayed"}""", result.Out);
    }

    [Theory]
    [InlineData("archive", "archived", "Archived")]
    [InlineData("restore", "dead", "Restored")]
    public async Task Archive_and_restore_post_the_reason_to_their_endpoint(string verb, string status, string done)
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""{"messageId":"{{Samples.Id}}","status":"{{status}}"}""");

        var result = await _cli.RunAsync("dead-letters", verb, Samples.Id, "--reason", "noise");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal($"/api/v1/dead-letters/{Samples.Id}/{verb}", request.PathAndQuery);
        Json.Equal("""{"reason":"noise"}""", request.Body);
        Assert.Equal($"{done} {Samples.Id}: its status is now {status}.", result.Out.Trim());
    }

    [Fact]
    public async Task Delete_sends_the_reason_in_the_query()
    {
        _cli.Api.Respond(HttpStatusCode.NoContent);

        var result = await _cli.RunAsync("dead-letters", "delete", Samples.Id, "--reason", "test data & junk");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal(HttpMethod.Delete, request.Method);
        Assert.Equal($"/api/v1/dead-letters/{Samples.Id}?reason=test%20data%20%26%20junk", request.PathAndQuery);
        Assert.Null(request.Body);
        Assert.Equal($"Deleted {Samples.Id}.", result.Out.Trim());
    }

    [Fact]
    public async Task Delete_with_json_prints_nothing_since_the_API_answers_no_content()
    {
        _cli.Api.Respond(HttpStatusCode.NoContent);

        var result = await _cli.RunAsync("dead-letters", "delete", Samples.Id, "--reason", "junk", "--json");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task The_token_from_the_environment_is_sent_as_a_bearer_token()
    {
        _cli.Environment["BACKBONE_TOKEN"] = "env-token";
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page());

        await _cli.RunAsync("dead-letters", "list");

        Assert.Equal("Bearer env-token", _cli.Api.Requests[0].Authorization);
    }

    [Fact]
    public async Task The_token_option_wins_over_the_environment()
    {
        _cli.Environment["BACKBONE_TOKEN"] = "env-token";
        _cli.Api.Respond(HttpStatusCode.OK, "[]");

        await _cli.RunAsync("dead-letters", "groups", "--token", "flag-token");

        Assert.Equal("Bearer flag-token", _cli.Api.Requests[0].Authorization);
    }

    [Fact]
    public async Task Without_a_token_no_authorization_header_is_sent()
    {
        _cli.Api.Respond(HttpStatusCode.OK, "[]");

        await _cli.RunAsync("dead-letters", "audit");

        Assert.Null(_cli.Api.Requests[0].Authorization);
    }

    [Fact]
    public async Task The_url_option_wins_over_the_environment_and_keeps_a_path_prefix()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page());

        await _cli.RunAsync("--url", "https://ops.example/backbone", "dead-letters", "list");

        Assert.Equal("https://ops.example/backbone/api/v1/dead-letters", _cli.Api.Requests[0].Uri.AbsoluteUri);
    }

    [Fact]
    public async Task Without_url_option_or_environment_the_local_API_is_used()
    {
        _cli.Environment.Remove("BACKBONE_URL");
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page());

        await _cli.RunAsync("dead-letters", "list");

        Assert.Equal("http://localhost:5083/api/v1/dead-letters", _cli.Api.Requests[0].Uri.AbsoluteUri);
    }

    [Fact]
    public async Task A_malformed_url_in_the_environment_is_a_usage_error()
    {
        _cli.Environment["BACKBONE_URL"] = "localhost:5083";

        var result = await _cli.RunAsync("dead-letters", "list");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("BACKBONE_URL", result.Error);
        Assert.Empty(_cli.Api.Requests);
    }
}
