using System.Text.RegularExpressions;

namespace EventBackbone.Deployment.Tests;

/// <summary>
/// What the deployments tell the hosts must be what the hosts read: a setting the code no longer reads (renamed, moved
/// to another host) would otherwise be ignored without a word, and the host would run on its default.
/// </summary>
public sealed partial class ConfigurationSpecs
{
    private const string InitScriptFolder = "/docker-entrypoint-initdb.d";

    private static readonly ComposeFile Compose = ComposeFile.Current;

    private static readonly KubernetesManifests Kubernetes = KubernetesManifests.Current;

    [Fact]
    public void Every_variable_compose_gives_a_host_is_a_key_its_code_reads()
    {
        var problems = new Problems();
        var checkedVariables = 0;
        foreach (var (service, host) in ComposeHosts())
        {
            foreach (var variable in Compose.RawEnvironment(service).Keys)
            {
                checkedVariables++;
                if (HostSettings.Unread(host, variable) is { } unread)
                {
                    problems.Add($"compose service {service}: {unread}.");
                }
            }
        }

        Assert.True(checkedVariables > 0, "No environment variable of a compose host was found to check.");
        problems.AssertNone();
    }

    [Fact]
    public void Every_variable_kubernetes_gives_a_host_is_a_key_its_code_reads()
    {
        var problems = new Problems();
        var checkedVariables = 0;
        foreach (var (deployment, container, host) in KubernetesHosts(problems))
        {
            foreach (var variable in Kubernetes.Environment(deployment, container, problems).Keys)
            {
                checkedVariables++;
                if (HostSettings.Unread(host, variable) is { } unread)
                {
                    problems.Add($"{deployment}: {unread}.");
                }
            }
        }

        Assert.True(checkedVariables > 0, "No environment variable of a Kubernetes host was found to check.");
        problems.AssertNone();
    }

    [Fact]
    public void Every_connection_string_is_one_its_host_registers_for_a_database_of_its_own_that_postgres_creates()
    {
        var databases = InitScriptDatabases();
        Assert.NotEmpty(databases);
        var problems = new Problems();

        void CheckHost(string where, HostProject host, IReadOnlyDictionary<string, string> environment, Dictionary<string, string> owners)
        {
            var connections = environment
                .Where(x => x.Key.StartsWith("ConnectionStrings__", StringComparison.Ordinal))
                .ToDictionary(x => x.Key["ConnectionStrings__".Length..], x => x.Value, StringComparer.OrdinalIgnoreCase);
            foreach (var (name, connectionString) in connections)
            {
                problems.Check(
                    host.ConnectionNames.Contains(name),
                    $"{where}: ConnectionStrings__{name}, but {host.Name} registers its database as {string.Join(", ", host.ConnectionNames.DefaultIfEmpty("nothing"))}.");
                var database = HostSettings.ConnectionStringParts(connectionString).GetValueOrDefault("Database");
                problems.Check(
                    database is not null && databases.Contains(database),
                    $"{where}: ConnectionStrings__{name} names database '{database}', which the init script does not create ({string.Join(", ", databases)}).");
                if (database is not null && owners.TryGetValue(database, out var owner) && owner != host.Name)
                {
                    problems.Add($"{where}: {host.Name} and {owner} share database {database}; every service owns its own.");
                }
                else if (database is not null)
                {
                    owners[database] = host.Name;
                }
            }

            // Without it the host stops at start (exit 78): the one setting a distributed host cannot do without.
            foreach (var required in host.ConnectionNames.Where(name => !connections.ContainsKey(name)))
            {
                problems.Add($"{where}: {host.Name} registers database {required}, but ConnectionStrings__{required} is not set.");
            }
        }

        var composeOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (service, host) in ComposeHosts())
        {
            CheckHost($"compose service {service}", host, Compose.Environment(service), composeOwners);
        }

        var kubernetesOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (deployment, container, host) in KubernetesHosts(problems))
        {
            CheckHost(deployment.ToString(), host, Kubernetes.Environment(deployment, container, problems), kubernetesOwners);
        }

        Assert.NotEmpty(composeOwners);
        Assert.NotEmpty(kubernetesOwners);
        problems.AssertNone();
    }

    [Fact]
    public void The_init_script_creates_the_databases_scripts_infra_sh_creates()
    {
        var infra = ServiceDatabasesLine().Match(Repository.ReadText("scripts/infra.sh"));
        Assert.True(infra.Success, "scripts/infra.sh no longer lists SERVICE_DATABASES=(…) where this test reads it.");
        var local = infra.Groups["names"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);

        Assert.Equal(local, InitScriptDatabases().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_signing_key_placeholder_is_refused_by_the_hosts_until_it_is_replaced()
    {
        var keys = ComposeHosts().SelectMany(x => Compose.Environment(x.Service).Select(variable => (Where: $"compose service {x.Service}", variable.Key, variable.Value)))
            .Concat(KubernetesHosts(new Problems()).SelectMany(x => Kubernetes.Environment(x.Deployment, x.Container, new Problems())
                .Select(variable => (Where: x.Deployment.ToString(), variable.Key, variable.Value))))
            .Where(x => x.Key.StartsWith("Backbone__Auth__SigningKeys__", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(keys);

        var problems = new Problems();
        foreach (var (where, variable, value) in keys)
        {
            // Everyone who has read the repository knows these values, so a topology deployed without replacing them
            // must stop at start (exit 78) rather than accept tokens anyone can mint with every scope.
            var setting = HostSettings.ConfigurationKey(variable);
            problems.Check(
                SigningKeySpecs.RefusalOutsideEmbeddedMode(setting, value) is { } refusal && refusal.Setting == setting,
                $"{where}: {variable} is accepted by a host outside embedded mode, though it is written in the repository.");
        }

        problems.AssertNone();
    }

    internal static IEnumerable<(string Service, HostProject Host)> ComposeHosts() =>
        Compose.HostServices.Select(service => (service, Compose.Host(service))).Where(x => x.Item2 is not null).Select(x => (x.service, x.Item2!));

    /// <summary>Each Deployment's container with the host it runs: the compose service of the same name builds it.</summary>
    internal static IEnumerable<(KubeObject Deployment, YamlDotNet.RepresentationModel.YamlNode Container, HostProject Host)> KubernetesHosts(Problems problems)
    {
        foreach (var deployment in Kubernetes.OfKind("Deployment"))
        {
            if (!Compose.Services.ContainsKey(deployment.Name) || Compose.Host(deployment.Name) is not { } host)
            {
                problems.Add($"{deployment}: no compose service of that name builds a host, so which code it runs is unknown.");
                continue;
            }

            foreach (var container in KubernetesManifests.Containers(deployment))
            {
                yield return (deployment, container, host);
            }
        }
    }

    /// <summary>The databases created by the scripts the postgres service mounts into its init folder.</summary>
    internal static IReadOnlySet<string> InitScriptDatabases()
    {
        var scripts = Compose.Services.Values
            .SelectMany(service => service.Get("volumes").Items().Select(volume => volume.Text()?.Split(':')))
            .Where(parts => parts is { Length: >= 2 } && parts[1].StartsWith(InitScriptFolder, StringComparison.Ordinal))
            .Select(parts => Repository.Relative(Repository.FullPath(Path.Combine(ComposeFile.Folder, parts![0]))))
            .ToList();
        Assert.True(scripts.Count > 0, $"No service of {ComposeFile.RelativePath} mounts an init script into {InitScriptFolder}.");

        return scripts.Where(Repository.Exists)
            .SelectMany(script => CreateDatabase().Matches(Repository.ReadText(script)).Select(match => match.Groups["name"].Value))
            .ToHashSet(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"CREATE\s+DATABASE\s+""?(?<name>\w+)""?", RegexOptions.IgnoreCase)]
    private static partial Regex CreateDatabase();

    [GeneratedRegex(@"^SERVICE_DATABASES=\((?<names>[^)]*)\)", RegexOptions.Multiline)]
    private static partial Regex ServiceDatabasesLine();
}
