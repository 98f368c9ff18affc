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

    /// <summary>The API of the RabbitMQ Cluster Operator's RabbitmqCluster and the Messaging Topology Operator's User and Permission.</summary>
    public const string RabbitMqApi = "rabbitmq.com/v1beta1";

    /// <summary>The API of CloudNativePG's Cluster and Database.</summary>
    public const string CloudNativePgApi = "postgresql.cnpg.io/v1";

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

    /// <summary>Objects of a custom resource: its kind in its API group and version (another operator may reuse the kind).</summary>
    public IEnumerable<KubeObject> OfKind(string kind, string apiVersion) =>
        OfKind(kind).Where(x => x.Node.Text("apiVersion") == apiVersion);

    /// <summary>The brokers: the RabbitMQ Cluster Operator's clusters.</summary>
    public IEnumerable<KubeObject> BrokerClusters => OfKind("RabbitmqCluster", RabbitMqApi);

    /// <summary>The databases: CloudNativePG's clusters.</summary>
    public IEnumerable<KubeObject> DatabaseClusters => OfKind("Cluster", CloudNativePgApi);

    /// <summary>
    /// The client Service the RabbitMQ Cluster Operator creates for a RabbitmqCluster: named after it, in its namespace,
    /// amqp on 5672 and management on 15672 (the operator's resource/service.go; its default-user Secret gives the same
    /// host, <c>&lt;name&gt;.&lt;namespace&gt;.svc</c>).
    /// </summary>
    public static (string Name, string? Namespace) BrokerService(KubeObject cluster) => (cluster.Name, cluster.Namespace);

    /// <summary>CloudNativePG's read-write Service, <c>&lt;cluster&gt;-rw</c>: always the current primary.</summary>
    public static (string Name, string? Namespace) PrimaryService(KubeObject cluster) => ($"{cluster.Name}-rw", cluster.Namespace);

    /// <summary>
    /// The Services the operators create for the clusters declared here, which no manifest declares: the broker's client
    /// Service and its headless <c>-nodes</c>; CloudNativePG's <c>-rw</c>, <c>-ro</c> and <c>-r</c>.
    /// </summary>
    public IEnumerable<(string Name, string? Namespace)> OperatorServices() =>
        BrokerClusters.SelectMany(cluster => new[] { BrokerService(cluster), ($"{cluster.Name}-nodes", cluster.Namespace) })
            .Concat(DatabaseClusters.SelectMany(cluster => new[] { "rw", "ro", "r" }.Select(service => ($"{cluster.Name}-{service}", cluster.Namespace))));

    /// <summary>Whether a Service of that name exists in that namespace once the manifests are applied.</summary>
    public bool IsService(string name, string? ns) => Find("Service", name, ns) is not null || OperatorServices().Contains((name, ns));

    /// <summary>
    /// The Service an in-cluster DNS name resolves to: <c>name</c> (the caller's namespace), <c>name.namespace.svc</c> or
    /// <c>name.namespace.svc.cluster.local</c>; null for any other name, a domain outside the cluster.
    /// </summary>
    public static (string Name, string? Namespace)? ServiceOf(string host, string? callerNamespace) =>
        host.TrimEnd('.').Split('.') switch
        {
            [var name] => (name, callerNamespace),
            [var name, var ns, "svc"] => (name, ns),
            [var name, var ns, "svc", "cluster", "local"] => (name, ns),
            _ => null,
        };

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
