using System.Text.Json.Nodes;

namespace EventBackbone.Cli.Tests;

internal static class Json
{
    /// <summary>Same JSON whatever the property order or spacing.</summary>
    public static void Equal(string expected, string? actual)
    {
        Assert.NotNull(actual);
        Assert.True(
            JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual)),
            $"Expected JSON {expected}\nbut got {actual}");
    }
}
