using System.Text.RegularExpressions;

namespace EventBackbone.Deployment.Tests;

/// <summary>How a deployment's environment variables become a host's configuration, and what they must say.</summary>
internal static partial class HostSettings
{
    /// <summary>
    /// Variables read by .NET's hosting itself rather than by our code. Kept small and explicit: a variable that is not
    /// here has to be a key our code reads. OTEL_* is not here as a whole: the code reads OTEL_EXPORTER_OTLP_ENDPOINT
    /// itself (and is checked like any key); another OTEL_* variable would need the SDK reading it named here.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> FrameworkVariables =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Urls"] = "the addresses Kestrel listens on (the web host's `urls` key)",
            ["ASPNETCORE_URLS"] = "the same, but read before appsettings.json, whose Urls then wins",
            ["ASPNETCORE_ENVIRONMENT"] = "the host environment: which appsettings.{Environment}.json is read",
            ["DOTNET_ENVIRONMENT"] = "the same, for the generic host",
        };

    /// <summary>Interfaces an address may name so that other containers and the kubelet can reach the host.</summary>
    private static readonly string[] AllInterfaces = ["+", "*", "0.0.0.0", "[::]"];

    /// <summary>The paths a health check may probe: the ones MapDefaultEndpoints maps.</summary>
    public static readonly string[] HealthPaths = ["/health/live", "/health/ready"];

    /// <summary>ASP.NET Core's mapping of an environment variable to a configuration key: <c>A__B__0</c> is <c>A:B:0</c>.</summary>
    public static string ConfigurationKey(string variable) => variable.Replace("__", ":", StringComparison.Ordinal);

    /// <summary>Null when the host reads <paramref name="variable"/>; otherwise why it would be ignored.</summary>
    public static string? Unread(HostProject host, string variable)
    {
        if (FrameworkVariables.ContainsKey(variable))
        {
            return null;
        }

        var key = ConfigurationKey(variable);
        return host.Reads.Reads(key)
            ? null
            : $"{variable} ({key}) is not a key {host.Name} or a project it references reads, nor a framework variable";
    }

    /// <summary>
    /// The addresses a host listens on in a container. <c>Urls</c> from the environment wins; otherwise appsettings.json's
    /// Urls, which also overrides ASPNETCORE_URLS (the ASPNETCORE_ variables are read first); then ASPNETCORE_URLS.
    /// </summary>
    public static (string? Urls, string Source) EffectiveUrls(HostProject host, IReadOnlyDictionary<string, string> environment)
    {
        string? Variable(string name) => environment.FirstOrDefault(x => x.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

        return Variable("Urls") is { Length: > 0 } urls ? (urls, "Urls")
            : host.AppSettingsUrls is { } appSettings ? (appSettings, $"{host.Folder}/appsettings.json")
            : Variable("ASPNETCORE_URLS") is { Length: > 0 } aspNetCore ? (aspNetCore, "ASPNETCORE_URLS")
            : (null, "nothing");
    }

    /// <summary>Each address of a <c>;</c>-separated Urls value as (host, port); null where one cannot be read.</summary>
    public static IReadOnlyList<(string Host, int Port)>? Addresses(string urls)
    {
        var addresses = new List<(string, int)>();
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var match = Address().Match(url);
            if (!match.Success)
            {
                return null;
            }

            var port = match.Groups["port"].Success
                ? int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture)
                : match.Groups["scheme"].Value == "https" ? 443 : 80;
            addresses.Add((match.Groups["host"].Value, port));
        }

        return addresses;
    }

    public static bool IsAllInterfaces(string host) => AllInterfaces.Contains(host, StringComparer.Ordinal);

    /// <summary>A PostgreSQL connection string's parts, by key (case-insensitive, as Npgsql reads them).</summary>
    public static IReadOnlyDictionary<string, string> ConnectionStringParts(string connectionString) =>
        connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2))
            .Where(parts => parts.Length == 2)
            .GroupBy(parts => parts[0].Trim(), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(group => group.Key, group => group.Last()[1].Trim(), StringComparer.OrdinalIgnoreCase);

    [GeneratedRegex(@"^(?<scheme>https?)://(?<host>\[[^\]]*\]|[^:/]+)(?::(?<port>\d+))?/?$")]
    private static partial Regex Address();
}
