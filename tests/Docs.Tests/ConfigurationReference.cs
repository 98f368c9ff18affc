using System.Text.RegularExpressions;

namespace EventBackbone.Docs.Tests;

/// <summary>A row of docs/configuration.md's table: its key as written, the key as a pattern, and its line.</summary>
internal sealed record DocumentedSetting(string Written, string Key, int Line);

/// <summary>
/// docs/configuration.md's one table: a row's first column is its key in backticks. <c>0…n</c> (a list) and
/// <c>&lt;name&gt;</c> (a map) segments read as <c>*</c>, the same as the scan of the code writes them.
/// </summary>
internal static partial class ConfigurationReference
{
    public const string RelativePath = "docs/configuration.md";

    public static IReadOnlyList<DocumentedSetting> Rows(MarkdownDocument document)
    {
        var rows = new List<DocumentedSetting>();
        for (var i = 0; i < document.Lines.Length; i++)
        {
            var line = document.Lines[i].Trim();
            if (!line.StartsWith('|') || Separator().IsMatch(line))
            {
                continue;
            }

            var firstCell = line.TrimStart('|').Split('|')[0].Trim();
            var key = FirstColumnKey().Match(firstCell);
            if (key.Success)
            {
                var written = key.Groups["key"].Value;
                rows.Add(new DocumentedSetting(written, SettingsInCode.Normalize(Pattern(written)), i + 1));
            }
        }

        return rows;
    }

    /// <summary><c>Backbone:Auth:SigningKeys:0…n</c> → <c>Backbone:Auth:SigningKeys:*</c>; <c>…:Sources:&lt;name&gt;:Scheme</c> → <c>…:Sources:*:Scheme</c>.</summary>
    public static string Pattern(string written) =>
        string.Join(':', written.Split(':').Select(segment => Placeholder().IsMatch(segment) ? "*" : segment));

    [GeneratedRegex(@"^\|?\s*:?-{3,}")]
    private static partial Regex Separator();

    [GeneratedRegex(@"^`(?<key>[^`]+)`$")]
    private static partial Regex FirstColumnKey();

    [GeneratedRegex(@"^(?:0(?:…|\.\.\.?)n|<[^>]+>|\{[^}]+\}|\*)$")]
    private static partial Regex Placeholder();
}
