using System.Text.RegularExpressions;

namespace EventBackbone.Deployment.Tests;

/// <summary>
/// Least privilege: a host that is compromised, or has a bug, must not be able to delete another service's queues, read
/// its messages, or drop its database. So no host signs in as the broker's administrator or the database superuser, and
/// each has a broker user and a database role of its own, limited to its own queues, exchanges and database.
/// </summary>
public sealed partial class AccountSpecs
{
    private const string UsernameVariable = "Backbone__RabbitMq__Username";

    private const string PasswordVariable = "Backbone__RabbitMq__Password";

    private const string ManagementVariable = "Backbone__RabbitMq__ManagementUrl";

    /// <summary>
    /// Names no host declares or uses: a permission matching them reaches beyond the host's own resources. (Every
    /// <c>*_error</c> queue is the dead-letter service's to read, so no such name is here.)
    /// </summary>
    private static readonly string[] ForeignNames =
        ["another-service-queue", "EventBackbone.Contracts.Other:Message", "amq.topic"];

    private static readonly ComposeFile Compose = ComposeFile.Current;

    private static readonly KubernetesManifests Kubernetes = KubernetesManifests.Current;

    [Fact]
    public void No_compose_host_signs_in_to_the_broker_as_its_administrator_and_each_has_a_user_of_its_own()
    {
        var problems = new Problems();
        var administrator = Compose.Environment("rabbitmq").GetValueOrDefault("RABBITMQ_DEFAULT_USER", "guest");
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var service in BrokerHosts())
        {
            var user = Compose.Environment(service).GetValueOrDefault(UsernameVariable, "");
            CheckBrokerUser($"compose service {service}", user, administrator, users, problems);
        }

        Assert.NotEmpty(users);
        problems.AssertNone();
    }

    [Fact]
    public void Every_compose_hosts_broker_user_is_created_with_permissions_on_its_own_names_only()
    {
        var problems = new Problems();
        var accounts = BrokerAccounts.Load(problems);
        var creator = Compose.Services.ContainsKey(BrokerAccounts.ComposeService) ? Compose.Environment(BrokerAccounts.ComposeService) : null;
        problems.Check(creator is not null, $"No compose service {BrokerAccounts.ComposeService} creates the hosts' broker users.");
        foreach (var service in BrokerHosts())
        {
            var environment = Compose.Environment(service);
            if (!accounts.TryGetValue(service, out var account))
            {
                problems.Add($"compose service {service}: no line in {BrokerAccounts.RelativePath}, so its broker user has no permissions.");
                continue;
            }

            CheckAccount($"compose service {service}", account, environment.ContainsKey(ManagementVariable), problems);
            if (creator is not null)
            {
                var prefix = BrokerAccount.VariablePrefix(service);
                problems.Check(
                    creator.GetValueOrDefault($"{prefix}_RABBITMQ_USER") == environment.GetValueOrDefault(UsernameVariable),
                    $"compose service {service}: signs in as '{environment.GetValueOrDefault(UsernameVariable)}', but {BrokerAccounts.ComposeService} creates {prefix}_RABBITMQ_USER='{creator.GetValueOrDefault($"{prefix}_RABBITMQ_USER")}'.");
                problems.Check(
                    creator.GetValueOrDefault($"{prefix}_RABBITMQ_PASSWORD") == environment.GetValueOrDefault(PasswordVariable),
                    $"compose service {service}: its broker password is not the one {BrokerAccounts.ComposeService} sets ({prefix}_RABBITMQ_PASSWORD).");
                // A host started before its user exists fails to connect (ACCESS_REFUSED) until a restart.
                problems.Check(
                    ComposeSpecs.Dependencies(Compose.Services[service]).Contains((BrokerAccounts.ComposeService, "service_completed_successfully")),
                    $"compose service {service}: does not wait for {BrokerAccounts.ComposeService} with service_completed_successfully.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_compose_host_uses_a_database_role_of_its_own_that_is_neither_superuser_nor_creates_databases()
    {
        var problems = new Problems();
        var postgres = Compose.Environment("postgres");
        var superuser = postgres.GetValueOrDefault("POSTGRES_USER", "postgres");
        var initScripts = InitScripts();
        Assert.NotEmpty(initScripts);
        foreach (var (script, text) in initScripts)
        {
            foreach (var keyword in PrivilegedRoleOption().Matches(StripComments(text)).Select(x => x.Value.ToUpperInvariant()).Distinct())
            {
                problems.Add($"{script}: gives a role {keyword}; a service role owns its database and nothing more.");
            }
        }

        var roles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (service, _) in ConfigurationSpecs.ComposeHosts())
        {
            var environment = Compose.Environment(service);
            foreach (var role in DatabaseRoles(environment))
            {
                CheckDatabaseRole($"compose service {service}", role, superuser, roles, problems);
                var prefix = BrokerAccount.VariablePrefix(service);
                problems.Check(
                    postgres.GetValueOrDefault($"{prefix}_DB_USER") == role,
                    $"compose service {service}: connects as '{role}', but the postgres service's {prefix}_DB_USER (the role the init script creates for it) is '{postgres.GetValueOrDefault($"{prefix}_DB_USER")}'.");
                problems.Check(
                    initScripts.Any(x => x.Text.Contains($"{prefix}_DB_USER", StringComparison.Ordinal)),
                    $"compose service {service}: no init script creates its role {prefix}_DB_USER.");
            }
        }

        Assert.NotEmpty(roles);
        problems.AssertNone();
    }

    [Fact]
    public void Every_kubernetes_host_has_broker_and_database_credentials_of_its_own_in_its_own_secret()
    {
        var problems = new Problems();
        var accounts = BrokerAccounts.Load(problems);
        var administrator = Compose.Environment("rabbitmq").GetValueOrDefault("RABBITMQ_DEFAULT_USER", "guest");
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        var roles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var shared in Kubernetes.OfKind("Secret").Concat(Kubernetes.OfKind("ConfigMap"))
            .Where(x => Kubernetes.OfKind("Deployment").All(deployment => deployment.Name != x.Name)))
        {
            foreach (var key in KubernetesManifests.Data(shared).Keys.Where(key => key is UsernameVariable or PasswordVariable || key.StartsWith("ConnectionStrings__", StringComparison.Ordinal)))
            {
                problems.Add($"{shared}: holds {key}, which every host reading it would share.");
            }
        }

        foreach (var (deployment, container, _) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            var where = deployment.ToString();
            var environment = Kubernetes.Environment(deployment, container, problems);
            if (!environment.ContainsKey("Backbone__RabbitMq__Host"))
            {
                // No broker connection (the operators' console): no broker user to keep to itself.
                continue;
            }

            var own = Kubernetes.Find("Secret", deployment.Name, deployment.Namespace) is { } secret ? KubernetesManifests.Data(secret) : new Dictionary<string, string>();
            foreach (var key in new[] { UsernameVariable, PasswordVariable })
            {
                problems.Check(own.ContainsKey(key), $"{where}: its own Secret {deployment.Name} does not hold {key}.");
            }

            CheckBrokerUser(where, environment.GetValueOrDefault(UsernameVariable, ""), administrator, users, problems);
            foreach (var role in DatabaseRoles(environment))
            {
                CheckDatabaseRole(where, role, "postgres", roles, problems);
            }

            if (accounts.TryGetValue(deployment.Name, out var account))
            {
                CheckAccount(where, account, environment.ContainsKey(ManagementVariable), problems);
            }
            else
            {
                problems.Add($"{where}: no line in {BrokerAccounts.RelativePath}, so its broker user's permissions are not written down.");
            }
        }

        Assert.NotEmpty(users);
        problems.AssertNone();
    }

    [Fact]
    public void Every_kubernetes_hosts_broker_user_is_a_topology_operator_user_with_the_permissions_written_down()
    {
        var problems = new Problems();
        var accounts = BrokerAccounts.Load(problems);
        var broker = KubernetesSpecs.Single(Kubernetes.BrokerClusters, $"RabbitmqCluster ({KubernetesManifests.RabbitMqApi})", problems);
        var checkedAny = false;
        foreach (var (deployment, container, _) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            var environment = Kubernetes.Environment(deployment, container, problems);
            if (!environment.ContainsKey("Backbone__RabbitMq__Host") || broker is null)
            {
                continue;
            }

            checkedAny = true;
            var where = deployment.ToString();
            var username = environment.GetValueOrDefault(UsernameVariable, "");

            // The Messaging Topology Operator creates the user from the Secret's username and password; the User, its
            // Secret and the Permission live in the broker's namespace, next to the RabbitmqCluster they name.
            var users = Kubernetes.OfKind("User", KubernetesManifests.RabbitMqApi)
                .Where(user => user.Namespace == broker.Namespace && user.Node.At("spec", "rabbitmqClusterReference").Text("name") == broker.Name)
                .Select(user => (User: user, Secret: Kubernetes.Find("Secret", user.Node.At("spec", "importCredentialsSecret").Text("name") ?? "", broker.Namespace)))
                .Where(x => x.Secret is not null && KubernetesManifests.Data(x.Secret).GetValueOrDefault("username") == username)
                .ToList();
            if (users is not [var (user, secret)])
            {
                problems.Add($"{where}: {users.Count} Users ({KubernetesManifests.RabbitMqApi}) of {broker} import credentials with username '{username}'; expected one, so the operator creates its broker user.");
                continue;
            }

            problems.Check(
                KubernetesManifests.Data(secret!).GetValueOrDefault("password") == environment.GetValueOrDefault(PasswordVariable),
                $"{where}: its broker password is not the one {secret} gives {user}.");
            if (!accounts.TryGetValue(deployment.Name, out var account))
            {
                problems.Add($"{where}: no line in {BrokerAccounts.RelativePath} to compare {user} with.");
                continue;
            }

            var tags = user.Node.At("spec", "tags").Items().Select(x => x.Text() ?? "").Order(StringComparer.Ordinal);
            problems.Check(
                tags.SequenceEqual(account.Tags.Split(',', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal)),
                $"{where}: {user} is tagged '{string.Join(',', tags)}', but {BrokerAccounts.RelativePath} says '{account.Tags}'.");

            var vhost = environment.GetValueOrDefault("Backbone__RabbitMq__VirtualHost", "/");
            var permissions = Kubernetes.OfKind("Permission", KubernetesManifests.RabbitMqApi)
                .Where(x => x.Namespace == broker.Namespace && x.Node.At("spec", "userReference").Text("name") == user.Name && x.Node.At("spec").Text("vhost") == vhost)
                .ToList();
            if (permissions is not [var permission])
            {
                problems.Add($"{where}: {permissions.Count} Permissions ({KubernetesManifests.RabbitMqApi}) reference {user} on vhost {vhost}; expected one.");
                continue;
            }

            problems.Check(
                permission.Node.At("spec", "rabbitmqClusterReference").Text("name") == broker.Name,
                $"{where}: {permission} does not name {broker} in rabbitmqClusterReference.");
            foreach (var (kind, pattern) in account.Permissions)
            {
                var given = permission.Node.At("spec", "permissions").Text(kind);
                problems.Check(given == pattern, $"{where}: {permission} gives {kind} '{given}', but {BrokerAccounts.RelativePath} says '{pattern}'.");
            }
        }

        Assert.True(broker is null || checkedAny, "No Kubernetes host connects to the broker.");
        problems.AssertNone();
    }

    private static void CheckBrokerUser(string where, string user, string administrator, Dictionary<string, string> users, Problems problems)
    {
        problems.Check(user.Length > 0, $"{where}: no {UsernameVariable}, so it signs in as the default guest.");
        problems.Check(user != administrator, $"{where}: signs in to the broker as its administrator ({user}).");
        problems.Check(user != "guest", $"{where}: signs in to the broker as guest, an administrator.");
        if (user.Length > 0 && !users.TryAdd(user, where))
        {
            problems.Add($"{where}: shares broker user {user} with {users[user]}.");
        }
    }

    private static void CheckDatabaseRole(string where, string role, string superuser, Dictionary<string, string> roles, Problems problems)
    {
        problems.Check(role != superuser, $"{where}: connects to PostgreSQL as the superuser {superuser}.");
        if (!roles.TryAdd(role, where))
        {
            problems.Add($"{where}: shares database role {role} with {roles[role]}.");
        }
    }

    private static void CheckAccount(string where, BrokerAccount account, bool readsManagementApi, Problems problems)
    {
        foreach (var (kind, pattern) in account.Permissions)
        {
            Regex regex;
            try
            {
                regex = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException invalid)
            {
                problems.Add($"{where}: {kind} permission '{pattern}' is not a regular expression ({invalid.Message}).");
                continue;
            }

            foreach (var foreign in ForeignNames.Where(name => regex.IsMatch(name)))
            {
                problems.Add($"{where}: {kind} permission '{pattern}' also matches '{foreign}', a name the host does not use.");
            }
        }

        var tags = account.Tags.Split(',', StringSplitOptions.RemoveEmptyEntries);
        foreach (var tag in tags.Where(tag => tag is "administrator" or "policymaker"))
        {
            problems.Add($"{where}: its broker user is tagged {tag}.");
        }

        // The management API answers only users with a management tag; `management` sees the queues of the vhosts the
        // user has permissions on, which is all the dead-letter service's discovery lists.
        problems.Check(
            readsManagementApi == tags.Any(tag => tag is "management" or "monitoring"),
            readsManagementApi
                ? $"{where}: reads the management API ({ManagementVariable}), but its broker user has no management tag ('{account.Tags}')."
                : $"{where}: does not read the management API, but its broker user is tagged '{account.Tags}'.");
    }

    /// <summary>The compose hosts that talk to the broker (the notification provider stub does not).</summary>
    private static IEnumerable<string> BrokerHosts() =>
        ConfigurationSpecs.ComposeHosts().Select(x => x.Service).Where(service => Compose.Environment(service).ContainsKey("Backbone__RabbitMq__Host"));

    private static IEnumerable<string> DatabaseRoles(IReadOnlyDictionary<string, string> environment) =>
        environment.Where(x => x.Key.StartsWith("ConnectionStrings__", StringComparison.Ordinal))
            .Select(x => HostSettings.ConnectionStringParts(x.Value).GetValueOrDefault("Username") ?? "");

    private static List<(string Script, string Text)> InitScripts() =>
        [.. Compose.Services["postgres"].Get("volumes").Items()
            .Select(volume => volume.Text()?.Split(':'))
            .Where(parts => parts is { Length: >= 2 } && parts[1].StartsWith("/docker-entrypoint-initdb.d", StringComparison.Ordinal))
            .Select(parts => Repository.Relative(Repository.FullPath(Path.Combine(ComposeFile.Folder, parts![0]))))
            .Where(Repository.Exists)
            .Select(script => (script, Repository.ReadText(script)))];

    /// <summary>Shell (#) and SQL (--) comments, which may name the options they do not grant.</summary>
    private static string StripComments(string script) =>
        string.Join('\n', script.Split('\n').Select(line => line.TrimStart()).Where(line => !line.StartsWith('#') && !line.StartsWith("--", StringComparison.Ordinal)));

    [GeneratedRegex(@"\b(CREATEDB|SUPERUSER|CREATEROLE|REPLICATION|BYPASSRLS)\b", RegexOptions.IgnoreCase)]
    private static partial Regex PrivilegedRoleOption();
}
