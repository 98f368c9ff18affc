using YamlDotNet.RepresentationModel;

namespace EventBackbone.Deployment.Tests;

/// <summary>Reading YAML documents as nodes: the deployment files are checked as written, not bound to classes.</summary>
internal static class Yaml
{
    public static IReadOnlyList<YamlNode> LoadDocuments(string relativePath)
    {
        using var reader = new StringReader(Repository.ReadText(relativePath));
        var stream = new YamlStream();
        stream.Load(reader);
        return [.. stream.Documents.Select(document => document.RootNode)];
    }

    public static YamlNode? Get(this YamlNode? node, string key) =>
        node is YamlMappingNode mapping && mapping.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    /// <summary>The node at a path of mapping keys, or null where any step is missing.</summary>
    public static YamlNode? At(this YamlNode? node, params string[] keys) =>
        keys.Aggregate(node, (current, key) => current.Get(key));

    public static string? Text(this YamlNode? node) => (node as YamlScalarNode)?.Value;

    public static string? Text(this YamlNode? node, string key) => node.Get(key).Text();

    public static IEnumerable<YamlNode> Items(this YamlNode? node) =>
        node is YamlSequenceNode sequence ? sequence.Children : [];

    public static IEnumerable<(string Key, YamlNode Value)> Entries(this YamlNode? node) =>
        node is YamlMappingNode mapping
            ? mapping.Children.Select(entry => (entry.Key.Text() ?? "", entry.Value))
            : [];
}
