namespace EventBackbone.Cli.Tests;

public sealed class HelpSpecs : IDisposable
{
    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task The_top_level_help_documents_every_exit_code()
    {
        var result = await _cli.RunAsync("--help");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        foreach (var line in new[] { "0    success", "1    a replay job", "2    usage error", "3    not authenticated", "4    not found", "5    refused", "6    API unreachable" })
        {
            Assert.Contains(line, result.Out);
        }
    }

    [Theory]
    [InlineData("list", "--message-type")]
    [InlineData("groups", "--json")]
    [InlineData("show", "<messageId>")]
    [InlineData("replay", "--no-wait")]
    [InlineData("archive", "--reason")]
    [InlineData("restore", "--reason")]
    [InlineData("delete", "--reason")]
    [InlineData("audit", "--limit")]
    public async Task Every_verb_has_help_with_its_options_and_the_global_ones(string verb, string option)
    {
        var result = await _cli.RunAsync("dead-letters", verb, "--help");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains(option, result.Out);
        Assert.Contains("--url", result.Out);
        Assert.Contains("--token", result.Out);
        Assert.Empty(_cli.Api.Requests);
    }

    [Fact]
    public async Task Help_never_prints_the_token_from_the_environment()
    {
        _cli.Environment["BACKBONE_TOKEN"] = "secret-token-value";

        var result = await _cli.RunAsync("dead-letters", "list", "--help");

        Assert.DoesNotContain("secret-token-value", result.Out);
    }
}
