using System.Net;
using System.Net.Sockets;

namespace EventBackbone.Cli.Tests;

/// <summary>The exit codes scripts rely on, and the one-line errors on stderr that go with them.</summary>
public sealed class ExitCodeSpecs : IDisposable
{
    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized, ExitCodes.NotAllowed)]
    [InlineData(HttpStatusCode.Forbidden, ExitCodes.NotAllowed)]
    [InlineData(HttpStatusCode.NotFound, ExitCodes.NotFound)]
    [InlineData(HttpStatusCode.Conflict, ExitCodes.Refused)]
    [InlineData(HttpStatusCode.UnprocessableEntity, ExitCodes.Refused)]
    [InlineData(HttpStatusCode.BadRequest, ExitCodes.Refused)]
    [InlineData(HttpStatusCode.InternalServerError, ExitCodes.Unavailable)]
    [InlineData(HttpStatusCode.BadGateway, ExitCodes.Unavailable)]
    public async Task An_API_status_maps_to_its_exit_code_and_prints_the_problem(HttpStatusCode status, int exitCode)
    {
        _cli.Api.Problem(status, "Some title", "some detail");

        var result = await _cli.RunAsync("dead-letters", "show", Samples.Id);

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Equal("error: Some title: some detail", result.Error.Trim());
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task A_validation_problem_prints_each_error()
    {
        _cli.Api.Problem(
            HttpStatusCode.UnprocessableEntity, "One or more validation errors occurred.", "see errors",
            errors: """{"reason":["A deletion needs a reason, for the audit."]}""");

        var result = await _cli.RunAsync("dead-letters", "delete", Samples.Id, "--reason", "x");

        Assert.Equal(ExitCodes.Refused, result.ExitCode);
        Assert.Contains("error: One or more validation errors occurred.: see errors", result.Error);
        Assert.Contains("  reason: A deletion needs a reason, for the audit.", result.Error);
    }

    [Fact]
    public async Task An_error_without_a_problem_body_still_names_the_status()
    {
        _cli.Api.Respond(HttpStatusCode.Unauthorized);

        var result = await _cli.RunAsync("dead-letters", "list");

        Assert.Equal(ExitCodes.NotAllowed, result.ExitCode);
        Assert.Contains("(HTTP 401)", result.Error);
    }

    [Fact]
    public async Task A_refused_connection_exits_6_without_a_stack_trace()
    {
        _cli.Api.Throw(new HttpRequestException("Connection refused (api.test:5083)", new SocketException((int)SocketError.ConnectionRefused)));

        var result = await _cli.RunAsync("dead-letters", "list");

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.StartsWith("error: cannot reach the API at http://api.test:5083/: Connection refused", result.Error);
        Assert.DoesNotContain(" at ", result.Error.Replace("API at", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_timeout_exits_6()
    {
        _cli.Api.Throw(new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout", new TimeoutException()));

        var result = await _cli.RunAsync("dead-letters", "groups");

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Contains("did not answer within", result.Error);
    }

    [Fact]
    public async Task An_answer_that_is_not_the_expected_json_exits_6()
    {
        _cli.Api.Respond(HttpStatusCode.OK, "<html>proxy login</html>", contentType: "text/html");

        var result = await _cli.RunAsync("dead-letters", "list");

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.StartsWith("error: the API's answer is not the expected JSON", result.Error);
    }

    [Theory]
    [InlineData("show", "not-a-guid")]
    [InlineData("archive", "1234")]
    [InlineData("replay", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "oops")]
    public async Task A_malformed_message_id_is_a_usage_error_and_calls_no_API(params string[] verbAndIds)
    {
        var result = await _cli.RunAsync(["dead-letters", .. verbAndIds]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("is not a message id", result.Error);
        Assert.Contains("--help' for usage", result.Error);
        Assert.Empty(_cli.Api.Requests);
    }

    [Fact]
    public async Task Delete_without_a_reason_is_a_usage_error_and_calls_no_API()
    {
        var result = await _cli.RunAsync("dead-letters", "delete", Samples.Id);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--reason", result.Error);
        Assert.Empty(_cli.Api.Requests);
    }

    [Fact]
    public async Task Delete_with_a_blank_reason_is_a_usage_error()
    {
        var result = await _cli.RunAsync("dead-letters", "delete", Samples.Id, "--reason", "  ");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Empty(_cli.Api.Requests);
    }

    [Theory]
    [InlineData("list", "--limit", "0")]
    [InlineData("list", "--from", "yesterday")]
    [InlineData("list", "--unknown")]
    [InlineData("frobnicate")]
    public async Task Bad_arguments_are_usage_errors(params string[] args)
    {
        var result = await _cli.RunAsync(["dead-letters", .. args]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.StartsWith("error: ", result.Error);
        Assert.Empty(_cli.Api.Requests);
    }

    [Fact]
    public async Task A_verb_is_required()
    {
        var result = await _cli.RunAsync("dead-letters");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
    }

    [Theory]
    [InlineData(401, 3)]
    [InlineData(403, 3)]
    [InlineData(404, 4)]
    [InlineData(409, 5)]
    [InlineData(422, 5)]
    [InlineData(429, 5)]
    [InlineData(500, 6)]
    [InlineData(503, 6)]
    public void Statuses_map_to_the_documented_codes(int status, int exitCode) =>
        Assert.Equal(exitCode, ExitCodes.ForStatus(status));
}
