using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace EventBackbone.Deployment.Tests;

/// <summary>
/// A project as its files say: assembly name, the projects it references (transitively), the configuration keys its
/// code reads, the service database it registers and the address its appsettings.json binds to.
/// </summary>
internal sealed partial class HostProject
{
    /// <summary>.NET's default <c>HostOptions.ShutdownTimeout</c>, used when the code does not set its own.</summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(30);

    private static readonly ConcurrentDictionary<string, HostProject> Loaded = new(StringComparer.Ordinal);

    private readonly Lazy<IReadOnlyList<HostProject>> _closure;
    private readonly Lazy<ConfigurationReads> _reads;

    private HostProject(string relativePath)
    {
        RelativePath = relativePath;
        Folder = Path.GetDirectoryName(relativePath)!.Replace('\\', '/');
        Name = Path.GetFileNameWithoutExtension(relativePath);
        var project = XDocument.Parse(Repository.ReadText(relativePath));
        AssemblyName = Property(project, "AssemblyName") ?? InheritedAssemblyName() ?? Name;
        References = [.. project.Descendants("ProjectReference")
            .Select(reference => Normalize(Path.Combine(Folder, reference.Attribute("Include")!.Value)))];
        _closure = new(() => [this, .. References.SelectMany(reference => Load(reference).Closure).DistinctBy(x => x.RelativePath)]);
        _reads = new(() => ConfigurationReads.From(Closure.SelectMany(x => x.SourceFiles)));
    }

    /// <summary>The project file, relative to the repository root.</summary>
    public string RelativePath { get; }

    public string Folder { get; }

    public string Name { get; }

    public string AssemblyName { get; }

    public IReadOnlyList<string> References { get; }

    /// <summary>This project and every project it references, directly or not: all the code the host runs of ours.</summary>
    public IReadOnlyList<HostProject> Closure => _closure.Value;

    public IEnumerable<string> SourceFiles => Repository.Files(Folder, "*.cs");

    /// <summary>The configuration keys the host's code (its own and its references') reads.</summary>
    public ConfigurationReads Reads => _reads.Value;

    /// <summary>The names <c>AddServiceDatabase&lt;T&gt;(name)</c> is called with: the host reads <c>ConnectionStrings:{name}</c>.</summary>
    public IReadOnlySet<string> ConnectionNames => Reads.ServiceDatabases;

    /// <summary>
    /// How long the host may take to stop after SIGTERM: a shutdown-timeout setting the deployment gives (one the code
    /// reads), else the longest default the code sets (<c>ShutdownTimeout = TimeSpan.FromSeconds(n)</c>, or a setting
    /// read with such a default), else .NET's own 30 s.
    /// </summary>
    public TimeSpan ShutdownTimeout(IReadOnlyDictionary<string, string> environment)
    {
        foreach (var (variable, value) in environment)
        {
            var key = HostSettings.ConfigurationKey(variable);
            if (key.Split(':')[^1].Equals("ShutdownTimeout", StringComparison.OrdinalIgnoreCase) && Reads.Reads(key)
                && TimeSpan.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var configured))
            {
                return configured;
            }
        }

        return Closure.SelectMany(x => x.SourceFiles)
            .SelectMany(file => ShutdownTimeoutInCode().Matches(Repository.ReadText(file)))
            .Select(match => (Value: int.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture), Unit: match.Groups["unit"].Value))
            .Select(x => x.Unit == "Minutes" ? TimeSpan.FromMinutes(x.Value) : TimeSpan.FromSeconds(x.Value))
            .DefaultIfEmpty(DefaultShutdownTimeout)
            .Max();
    }

    /// <summary>
    /// <c>Urls</c> from the host's appsettings.json (and appsettings.Production.json, the environment a container runs
    /// in by default), or null where neither sets it.
    /// </summary>
    public string? AppSettingsUrls =>
        new[] { "appsettings.json", "appsettings.Production.json" }
            .Select(file => $"{Folder}/{file}")
            .Where(Repository.Exists)
            .Select(file => JsonDocument.Parse(Repository.ReadText(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip }))
            .Select(json => json.RootElement.EnumerateObject().FirstOrDefault(x => x.Name.Equals("Urls", StringComparison.OrdinalIgnoreCase)))
            .Where(property => property.Value.ValueKind == JsonValueKind.String)
            .Select(property => property.Value.GetString())
            .LastOrDefault();

    public static HostProject Load(string relativePath) => Loaded.GetOrAdd(Normalize(relativePath), path => new HostProject(path));

    /// <summary>Every web project under <paramref name="folder"/>: the hosts a deployment has to run.</summary>
    public static IEnumerable<HostProject> WebProjects(string folder) =>
        Repository.Files(folder, "*.csproj")
            .Where(path => Repository.ReadText(path).Contains("Sdk=\"Microsoft.NET.Sdk.Web\"", StringComparison.Ordinal))
            .Select(Load);

    private string? InheritedAssemblyName()
    {
        // MSBuild imports the nearest Directory.Build.props above the project, and only that one.
        for (var folder = Folder; ; folder = Path.GetDirectoryName(folder)?.Replace('\\', '/') ?? "")
        {
            var props = folder.Length == 0 ? "Directory.Build.props" : $"{folder}/Directory.Build.props";
            if (Repository.Exists(props))
            {
                return Property(XDocument.Parse(Repository.ReadText(props)), "AssemblyName")
                    ?.Replace("$(MSBuildProjectName)", Name, StringComparison.Ordinal);
            }

            if (folder.Length == 0)
            {
                return null;
            }
        }
    }

    private static string? Property(XDocument project, string name) =>
        project.Descendants("PropertyGroup").Elements(name).Select(x => x.Value.Trim()).LastOrDefault(x => x.Length > 0);

    private static string Normalize(string path) =>
        Repository.Relative(Repository.FullPath(path.Replace('\\', '/')));

    [GeneratedRegex(@"ShutdownTimeout""?\s*[=,]\s*TimeSpan\.From(?<unit>Seconds|Minutes)\((?<value>\d+)\)")]
    private static partial Regex ShutdownTimeoutInCode();
}
