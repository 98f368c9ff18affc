using System.Text;
using YamlDotNet.RepresentationModel;

namespace EventBackbone.Deployment.Tests;

/// <summary>One object of a manifest: the document, where it came from, and its kind and name.</summary>
internal sealed record KubeObject(string File, string Kind, string Name, string? Namespace, YamlNode Node)
{
    public override string ToString() => $"{Kind}/{Name} ({File})";
}

/// <summary>Every object of every manifest under compose/k8s/ (a file may hold several documents).</summary>
internal sealed class KubernetesManifests
{
    public const string Folder = "compose/k8s";

    private static readonly Lazy<KubernetesManifests> Instance = new(() => new KubernetesManifests());

    private KubernetesManifests() =>
        Objects = [.. Files.SelectMany(file => Yaml.LoadDocuments(file).Select(document => new KubeObject(
            file,
            document.Text("kind") ?? "",
            document.At("metadata", "name").Text() ?? "",
            document.At("metadata", "namespace").Text(),
            document)))];

    public static KubernetesManifests Current => Instance.Value;

    public static IEnumerable<string> Files =>
        Repository.Files(Folder, "*.yaml").Concat(Repository.Files(Folder, "*.yml")).Order(StringComparer.Ordinal);

    public IReadOnlyList<KubeObject> Objects { get; }

    public IEnumerable<KubeObject> OfKind(string kind) => Objects.Where(x => x.Kind == kind);

    public KubeObject? Find(string kind, string name, string? ns) =>
        Objects.FirstOrDefault(x => x.Kind == kind && x.Name == name && x.Namespace == ns);

    public static IEnumerable<YamlNode> Containers(KubeObject deployment) =>
        deployment.Node.At("spec", "template", "spec", "containers").Items();

    /// <summary>A ConfigMap's or Secret's entries; a Secret's <c>data</c> is base64, its <c>stringData</c> plain.</summary>
    public static IReadOnlyDictionary<string, string> Data(KubeObject source)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in source.Node.Get("data").Entries())
        {
            entries[key] = source.Kind == "Secret" ? Encoding.UTF8.GetString(Convert.FromBase64String(value.Text() ?? "")) : value.Text() ?? "";
        }

        foreach (var (key, value) in source.Node.Get("stringData").Entries())
        {
            entries[key] = value.Text() ?? "";
        }

        return entries;
    }

    /// <summary>
    /// The environment a container gets: its envFrom sources in order, then its own env (which wins). A variable whose
    /// value comes from a reference (valueFrom) is present with an empty value. A source that does not exist is a
    /// problem: the pod would not start.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment(KubeObject deployment, YamlNode container, Problems problems)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var source in container.Get("envFrom").Items())
        {
            var (kind, reference) = source.Get("configMapRef") is { } configMap ? ("ConfigMap", configMap) : ("Secret", source.Get("secretRef"));
            var name = reference.Text("name") ?? "";
            if (Find(kind, name, deployment.Namespace) is { } found)
            {
                foreach (var (key, value) in Data(found))
                {
                    environment[(source.Text("prefix") ?? "") + key] = value;
                }
            }
            else if (reference.Text("optional") != "true")
            {
                problems.Add($"{deployment}: envFrom names {kind} {name}, which no manifest under {Folder} defines.");
            }
        }

        foreach (var variable in container.Get("env").Items())
        {
            environment[variable.Text("name") ?? ""] = variable.Text("value") ?? "";
        }

        return environment;
    }
}
