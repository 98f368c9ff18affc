using System.CommandLine.Parsing;
using System.Globalization;

namespace EventBackbone.Cli.Commands;

/// <summary>
/// Argument parsers that reject a bad value while parsing, so a typo is a usage error (exit 2) and never reaches the API.
/// </summary>
internal static class Parsers
{
    public static Guid MessageId(ArgumentResult result) =>
        ParseGuid(result, result.Tokens.Count > 0 ? result.Tokens[0].Value : "");

    public static Guid? OptionalMessageId(ArgumentResult result) =>
        ParseGuid(result, result.Tokens.Count > 0 ? result.Tokens[0].Value : "");

    public static Guid[] MessageIds(ArgumentResult result) =>
        result.Tokens.Select(token => ParseGuid(result, token.Value)).ToArray();

    /// <summary>ISO 8601; without an offset the time is UTC, the same for every operator.</summary>
    public static DateTimeOffset? Time(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }

        result.AddError($"'{text}' is not a date and time (ISO 8601, e.g. 2026-11-28T09:00:00Z).");
        return null;
    }

    public static int? PositiveInt(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
        {
            return value;
        }

        result.AddError($"'{text}' is not a positive whole number.");
        return null;
    }

    public static Uri? HttpUrl(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryHttpUrl(text, out var url))
        {
            return url;
        }

        result.AddError($"'{text}' is not an absolute http:// or https:// URL.");
        return null;
    }

    public static bool TryHttpUrl(string? text, out Uri url)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var parsed) && (parsed.Scheme == Uri.UriSchemeHttp || parsed.Scheme == Uri.UriSchemeHttps))
        {
            url = parsed;
            return true;
        }

        url = null!;
        return false;
    }

    private static Guid ParseGuid(ArgumentResult result, string text)
    {
        if (Guid.TryParse(text, out var id))
        {
            return id;
        }

        result.AddError($"'{text}' is not a message id (a GUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301).");
        return Guid.Empty;
    }
}
