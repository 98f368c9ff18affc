using System.CommandLine;
using EventBackbone.Cli.Api;

namespace EventBackbone.Cli.Commands;

/// <summary><c>--url</c>, <c>--token</c> and <c>--json</c>, accepted by every verb.</summary>
internal sealed class GlobalOptions
{
    public const string UrlVariable = "BACKBONE_URL";
    public const string TokenVariable = "BACKBONE_TOKEN";
    public const string DefaultUrl = "http://localhost:5083";

    public Option<Uri?> Url { get; } = new("--url")
    {
        Description = $"The dead-letter API's base URL [default: ${UrlVariable}, else {DefaultUrl}]",
        HelpName = "URL",
        Recursive = true,
        CustomParser = Parsers.HttpUrl,
    };

    // No default value factory on purpose: help text would print the token from the environment.
    public Option<string?> Token { get; } = new("--token")
    {
        Description = $"Bearer token sent as 'Authorization: Bearer …' [default: ${TokenVariable}]",
        HelpName = "TOKEN",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print the API's JSON (indented) to stdout instead of tables",
        Recursive = true,
    };

    public void AddTo(Command root)
    {
        root.Options.Add(Url);
        root.Options.Add(Token);
        root.Options.Add(Json);
    }

    public DeadLetterApiClient Connect(ParseResult parse, HttpClient http, Func<string, string?> environment)
    {
        var url = parse.GetValue(Url);
        if (url is null)
        {
            var configured = environment(UrlVariable);
            if (string.IsNullOrWhiteSpace(configured))
            {
                url = new Uri(DefaultUrl);
            }
            else if (!Parsers.TryHttpUrl(configured.Trim(), out url))
            {
                throw new CliException(ExitCodes.Usage, $"${UrlVariable} ('{configured}') is not an absolute http:// or https:// URL.");
            }
        }

        return new DeadLetterApiClient(http, url, parse.GetValue(Token) ?? environment(TokenVariable));
    }
}
