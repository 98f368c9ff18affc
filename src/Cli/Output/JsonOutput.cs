using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace EventBackbone.Cli.Output;

/// <summary>JSON for people and for <c>jq</c>: indented, and with non-ASCII text left readable instead of \u-escaped.</summary>
public static class JsonOutput
{
    private static readonly JsonWriterOptions Indented = new()
    {
        Indented = true,
        // Safe here: the output goes to a terminal or a pipe, never into HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <returns>The text indented, or null when it is not JSON.</returns>
    public static string? TryPretty(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, Indented))
            {
                document.WriteTo(writer);
            }

            return Encoding.UTF8.GetString(buffer.ToArray());
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Prints the API's answer; one that is not JSON is printed as it came rather than lost.</summary>
    public static void Write(TextWriter output, string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return;
        }

        // Not JSON, so nothing escaped it: what would drive the terminal is removed as in a table.
        output.WriteLine(TryPretty(text) ?? TerminalText.Strip(text));
    }
}
