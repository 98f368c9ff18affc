using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace EventBackbone.Deployment.Tests;

/// <summary>
/// compose/docker-compose.yml with the values of compose/.env.example, interpolated the way Compose does
/// (<c>${NAME}</c>, <c>${NAME:-default}</c>, <c>${NAME:?error}</c>, <c>$$</c>).
/// </summary>
internal sealed partial class ComposeFile
{
    public const string Folder = "compose";
    public const string RelativePath = "compose/docker-compose.yml";
    public const string EnvExample = "compose/.env.example";

    private static readonly Lazy<ComposeFile> Instance = new(() => new ComposeFile());

    private ComposeFile()
    {
        Root = Yaml.LoadDocuments(RelativePath).Single();
        Services = Root.Get("services").Entries().ToDictionary(x => x.Key, x => x.Value, StringComparer.Ordinal);
        Variables = Repository.ReadText(EnvExample).Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#') && line.Contains('=', StringComparison.Ordinal))
            .Select(line => line.Split('=', 2))
            .ToDictionary(parts => parts[0].Trim(), parts => parts[1].Trim().Trim('"'), StringComparer.Ordinal);
    }

    public static ComposeFile Current => Instance.Value;

    public YamlNode Root { get; }

    public IReadOnlyDictionary<string, YamlNode> Services { get; }

    /// <summary>The variables compose/.env.example defines.</summary>
    public IReadOnlyDictionary<string, string> Variables { get; }

    /// <summary>The services built from a Dockerfile of ours: the .NET hosts.</summary>
    public IEnumerable<string> HostServices => Services.Where(x => x.Value.Get("build") is not null).Select(x => x.Key);

    /// <summary>A service's environment as written (map or <c>KEY=VALUE</c> list form), not interpolated.</summary>
    public IReadOnlyDictionary<string, string> RawEnvironment(string service)
    {
        var environment = Services[service].Get("environment");
        return environment is YamlSequenceNode
            ? environment.Items().Select(x => x.Text()!.Split('=', 2)).ToDictionary(x => x[0], x => x.Length > 1 ? x[1] : "", StringComparer.Ordinal)
            : environment.Entries().ToDictionary(x => x.Key, x => x.Value.Text() ?? "", StringComparer.Ordinal);
    }

    /// <summary>A service's environment with the .env.example values in; an undefined variable becomes empty.</summary>
    public IReadOnlyDictionary<string, string> Environment(string service) =>
        RawEnvironment(service).ToDictionary(x => x.Key, x => Interpolate(x.Value, []), StringComparer.Ordinal);

    /// <summary>The build context folder, relative to the repository root; null for a service using a ready image.</summary>
    public string? BuildContext(string service) =>
        Services[service].Get("build") is { } build
            ? Repository.Relative(Repository.FullPath(Path.Combine(Folder, (build as YamlScalarNode)?.Value ?? build.Get("context").Text() ?? ".")))
            : null;

    /// <summary>The Dockerfile of a built service, relative to the repository root (Compose resolves it in the context).</summary>
    public string? DockerfilePath(string service) =>
        BuildContext(service) is { } context
            ? Repository.Relative(Repository.FullPath(Path.Combine(context, Services[service].At("build", "dockerfile").Text() ?? "Dockerfile")))
            : null;

    /// <summary>The host project a built service runs: the one its Dockerfile publishes.</summary>
    public HostProject? Host(string service) =>
        DockerfilePath(service) is { } dockerfile && Repository.Exists(dockerfile) && Dockerfile.Load(dockerfile).PublishedProject is { } project
            ? HostProject.Load(project)
            : null;

    /// <summary>Replaces every variable reference; names with no value and no default are added to <paramref name="undefined"/>.</summary>
    public string Interpolate(string value, ICollection<string> undefined) =>
        VariableReference().Replace(value, match =>
        {
            if (match.Value == "$$")
            {
                return "$";
            }

            var name = match.Groups["name"].Success ? match.Groups["name"].Value : match.Groups["bare"].Value;
            var defined = Variables.TryGetValue(name, out var current);
            var argument = match.Groups["argument"].Value;
            // ":-" and ":?" also treat an empty value as unset; "-" and "?" only a missing one.
            var set = defined && (current!.Length > 0 || !match.Groups["operator"].Value.StartsWith(':'));
            switch (match.Groups["operator"].Value.TrimStart(':'))
            {
                case "-":
                    return set ? current! : argument;
                case "+":
                    return set ? argument : "";
                default:
                    if (!set)
                    {
                        undefined.Add(name);
                    }

                    return current ?? "";
            }
        });

    [GeneratedRegex(@"\$\$|\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?<operator>:?[-?+])(?<argument>[^}]*))?\}|\$(?<bare>[A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex VariableReference();
}
