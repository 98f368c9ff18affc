using YamlDotNet.RepresentationModel;

namespace EventBackbone.Deployment.Tests;

public sealed class KubernetesSpecs
{
    /// <summary>Time between the host's own shutdown deadline and the kubelet's SIGKILL.</summary>
    internal static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(10);

    private static readonly KubernetesManifests Kubernetes = KubernetesManifests.Current;

    private static readonly ComposeFile Compose = ComposeFile.Current;

    [Fact]
    public void Every_distributed_host_has_a_deployment_running_the_image_compose_builds_for_it()
    {
        var problems = new Problems();
        var deployed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (deployment, container, host) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            deployed.Add(host.RelativePath);
            var image = ImageRepository(container.Text("image"));
            var built = ImageRepository(Compose.Services[deployment.Name].Text("image"));
            problems.Check(image == built, $"{deployment}: runs image {image}, but compose builds {host.Name} as {built}.");
        }

        foreach (var host in ComposeSpecs.DistributedHosts())
        {
            problems.Check(deployed.Contains(host.RelativePath), $"{host.RelativePath} is a host, but no Deployment under {KubernetesManifests.Folder} runs it.");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_deployment_probes_live_and_ready_on_the_port_its_host_listens_on()
    {
        var problems = new Problems();
        foreach (var (deployment, container, host) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            var environment = Kubernetes.Environment(deployment, container, problems);
            var (urls, source) = HostSettings.EffectiveUrls(host, environment);
            if (urls is null || HostSettings.Addresses(urls) is not [var (address, port)])
            {
                problems.Add($"{deployment}: cannot tell the one address {host.Name} listens on (Urls from {source}: '{urls}').");
                continue;
            }

            problems.Check(
                HostSettings.IsAllInterfaces(address),
                $"{deployment}: listens on {address} (Urls from {source}), out of reach of the kubelet and the Service.");
            var ports = ContainerPorts(container);
            problems.Check(ports.Values.Contains(port), $"{deployment}: declares container ports {string.Join(", ", ports.Values)}, but the host listens on {port}.");

            foreach (var (probe, path) in new (string Probe, string? Path)[] { ("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"), ("startupProbe", null) })
            {
                var http = container.At(probe, "httpGet");
                if (http is null)
                {
                    problems.Check(probe == "startupProbe", $"{deployment}: no HTTP {probe}.");
                    continue;
                }

                var probed = http.Text("path");
                problems.Check(
                    path is null ? HostSettings.HealthPaths.Contains(probed, StringComparer.Ordinal) : probed == path,
                    $"{deployment}: {probe} probes '{probed}', expected {path ?? string.Join(" or ", HostSettings.HealthPaths)}.");
                problems.Check(
                    Resolve(http.Text("port"), ports) == port,
                    $"{deployment}: {probe} probes port '{http.Text("port")}', but the host listens on {port}.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_deployment_waits_longer_than_its_hosts_shutdown_timeout()
    {
        var problems = new Problems();
        var deployments = ConfigurationSpecs.KubernetesHosts(problems).DistinctBy(x => x.Deployment).ToList();
        Assert.NotEmpty(deployments);
        foreach (var (deployment, container, host) in deployments)
        {
            var grace = deployment.Node.At("spec", "template", "spec", "terminationGracePeriodSeconds").Text();
            var shutdown = host.ShutdownTimeout(Kubernetes.Environment(deployment, container, problems));
            problems.Check(
                int.TryParse(grace, out var seconds) && TimeSpan.FromSeconds(seconds) >= shutdown + ShutdownMargin,
                $"{deployment}: terminationGracePeriodSeconds is '{grace ?? "30 (default)"}', but {host.Name} may take {shutdown.TotalSeconds} s to stop: at least {(shutdown + ShutdownMargin).TotalSeconds} s.");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_container_requests_cpu_and_memory_and_limits_memory()
    {
        var problems = new Problems();
        var containers = Kubernetes.OfKind("Deployment").SelectMany(d => KubernetesManifests.Containers(d).Select(c => (Deployment: d, Container: c))).ToList();
        Assert.NotEmpty(containers);
        foreach (var (deployment, container) in containers)
        {
            foreach (var (section, resource) in new[] { ("requests", "cpu"), ("requests", "memory"), ("limits", "memory") })
            {
                problems.Check(container.At("resources", section, resource).Text() is { Length: > 0 }, $"{deployment}: no resources.{section}.{resource}.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_service_selects_a_deployment_and_targets_a_port_it_listens_on()
    {
        var problems = new Problems();
        var services = Kubernetes.OfKind("Service").Where(x => x.Node.At("spec", "type").Text() != "ExternalName").ToList();
        Assert.NotEmpty(services);
        foreach (var service in services)
        {
            var selector = service.Node.At("spec", "selector").Entries().ToDictionary(x => x.Key, x => x.Value.Text(), StringComparer.Ordinal);
            var selected = Kubernetes.OfKind("Deployment")
                .Where(deployment => deployment.Namespace == service.Namespace)
                .Where(deployment => selector.Count > 0 && selector.All(label => deployment.Node.At("spec", "template", "metadata", "labels").Text(label.Key) == label.Value))
                .ToList();
            if (selected.Count == 0)
            {
                problems.Add($"{service}: its selector matches the pods of no Deployment.");
                continue;
            }

            foreach (var port in service.Node.At("spec", "ports").Items())
            {
                var target = port.Text("targetPort") ?? port.Text("port");
                foreach (var deployment in selected)
                {
                    var ports = KubernetesManifests.Containers(deployment).SelectMany(c => ContainerPorts(c)).ToDictionary(x => x.Key, x => x.Value, StringComparer.Ordinal);
                    problems.Check(Resolve(target, ports) is not null, $"{service}: targets port '{target}', which {deployment} does not declare.");
                }
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_autoscaler_scales_a_deployment_on_the_cpu_it_requests()
    {
        var problems = new Problems();
        var autoscalers = Kubernetes.OfKind("HorizontalPodAutoscaler").ToList();
        Assert.NotEmpty(autoscalers);
        foreach (var autoscaler in autoscalers)
        {
            problems.Check(autoscaler.Node.Text("apiVersion") == "autoscaling/v2", $"{autoscaler}: apiVersion is not autoscaling/v2.");
            var target = autoscaler.Node.At("spec", "scaleTargetRef");
            var deployment = target.Text("kind") == "Deployment" ? Kubernetes.Find("Deployment", target.Text("name") ?? "", autoscaler.Namespace) : null;
            if (deployment is null)
            {
                problems.Add($"{autoscaler}: scales {target.Text("kind")}/{target.Text("name")}, which no manifest defines.");
                continue;
            }

            problems.Check(
                autoscaler.Node.At("spec", "metrics").Items().Any(metric => metric.Text("type") == "Resource" && metric.At("resource", "name").Text() == "cpu"),
                $"{autoscaler}: has no CPU resource metric.");
            // Utilisation is measured against the request: without one the autoscaler never acts.
            problems.Check(
                KubernetesManifests.Containers(deployment).All(container => container.At("resources", "requests", "cpu") is not null),
                $"{autoscaler}: scales on CPU, but {deployment} requests none.");
            problems.Check(
                int.TryParse(autoscaler.Node.At("spec", "minReplicas").Text() ?? "1", out var min)
                && int.TryParse(autoscaler.Node.At("spec", "maxReplicas").Text(), out var max) && min >= 1 && min <= max,
                $"{autoscaler}: minReplicas/maxReplicas are not 1 ≤ min ≤ max.");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_address_a_host_is_given_is_a_service_declared_here_or_created_by_an_operator_or_outside_the_cluster()
    {
        var problems = new Problems();
        var checkedAny = false;
        foreach (var (deployment, container, _) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            foreach (var (variable, target, _) in ComposeSpecs.Addresses(Kubernetes.Environment(deployment, container, problems)))
            {
                checkedAny = true;
                // Any other dotted name is outside the cluster on purpose (the notification provider's placeholder domain).
                if (KubernetesManifests.ServiceOf(target, deployment.Namespace) is { } service)
                {
                    problems.Check(
                        Kubernetes.IsService(service.Name, service.Namespace),
                        $"{deployment}: {variable} names '{target}', Service {service.Name} in namespace {service.Namespace}, which no manifest under {KubernetesManifests.Folder} declares and no RabbitmqCluster or CloudNativePG Cluster there creates.");
                }
            }
        }

        Assert.True(checkedAny, "No Kubernetes host is given the address of another service: the addresses were not found.");
        problems.AssertNone();
    }

    [Fact]
    public void The_broker_and_the_database_a_host_is_given_are_the_services_their_operators_create()
    {
        var problems = new Problems();
        var broker = Single(Kubernetes.BrokerClusters, $"RabbitmqCluster ({KubernetesManifests.RabbitMqApi})", problems);
        var database = Single(Kubernetes.DatabaseClusters, $"CloudNativePG Cluster ({KubernetesManifests.CloudNativePgApi})", problems);
        var checkedBroker = false;
        var checkedDatabase = false;

        // The Service a setting must name, and its port (null where the setting carries none).
        (KubeObject Owner, (string Name, string? Namespace) Service, int? Port)? Expected(string variable) =>
            variable.StartsWith("Backbone__RabbitMq__", StringComparison.Ordinal) && broker is not null
                ? (broker, KubernetesManifests.BrokerService(broker), variable == "Backbone__RabbitMq__ManagementUrl" ? 15672 : null)
                : variable.StartsWith("ConnectionStrings__", StringComparison.Ordinal) && database is not null
                    ? (database, KubernetesManifests.PrimaryService(database), 5432)
                    : null;

        foreach (var (deployment, container, _) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            var environment = Kubernetes.Environment(deployment, container, problems);
            foreach (var (variable, target, port) in ComposeSpecs.Addresses(environment))
            {
                if (Expected(variable) is not (var owner, var expected, var expectedPort))
                {
                    continue;
                }

                checkedBroker |= owner == broker;
                checkedDatabase |= owner == database;
                problems.Check(
                    KubernetesManifests.ServiceOf(target, deployment.Namespace) == expected,
                    $"{deployment}: {variable} names '{target}', not the Service {owner} creates: {expected.Name}.{expected.Namespace}.svc.");
                problems.Check(
                    port is null || port == expectedPort,
                    $"{deployment}: {variable} calls {target} on port {port}, but the Service {owner} creates listens on {expectedPort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "another"}.");
            }

            // The AMQP port is a setting of its own: 5672 is the operator's amqp port (5671 only with TLS, which names no Port).
            if (broker is not null && environment.TryGetValue("Backbone__RabbitMq__Port", out var amqpPort))
            {
                problems.Check(amqpPort == "5672", $"{deployment}: Backbone__RabbitMq__Port is {amqpPort}, but {broker}'s client Service takes AMQP on 5672.");
            }
        }

        problems.Check(broker is null || checkedBroker, "No Kubernetes host is given the broker's address.");
        problems.Check(database is null || checkedDatabase, "No Kubernetes host is given a connection string.");
        problems.Check(
            Kubernetes.OfKind("Service").Any(x => x.Name == "otel-collector" && x.Node.At("spec", "externalName").Text() is { Length: > 0 }),
            "No ExternalName Service 'otel-collector' with an externalName: the collector is run elsewhere and named here.");
        problems.AssertNone();
    }

    [Fact]
    public void The_broker_is_an_odd_number_of_nodes_whose_minority_pauses_and_no_two_share_a_kubernetes_node()
    {
        var problems = new Problems();
        var brokers = Kubernetes.BrokerClusters.ToList();
        problems.Check(brokers.Count > 0, $"No RabbitmqCluster ({KubernetesManifests.RabbitMqApi}) under {KubernetesManifests.Folder}: the broker is not deployed by the RabbitMQ Cluster Operator.");
        foreach (var broker in brokers)
        {
            var spec = broker.Node.Get("spec");
            // Quorum queues need a majority of nodes: 3 survive the loss of one, and a 4th adds no tolerance.
            var replicas = spec.Text("replicas");
            problems.Check(
                int.TryParse(replicas, out var count) && count >= 3 && count % 2 == 1,
                $"{broker}: replicas is '{replicas ?? "1 (the operator's default)"}'; quorum queues need an odd number, at least 3.");

            // The operator's built-in rabbitmq.conf says pause_minority today; written here so that neither an operator
            // upgrade nor an edit of additionalConfig silently turns a partitioned minority into a second writer.
            var settings = ConfSettings(spec.At("rabbitmq").Text("additionalConfig"));
            problems.Check(
                settings.GetValueOrDefault("cluster_partition_handling") == "pause_minority",
                $"{broker}: rabbitmq.additionalConfig does not set cluster_partition_handling = pause_minority.");

            problems.Check(
                spec.At("affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution").Items()
                    .Any(term => term.Text("topologyKey") == "kubernetes.io/hostname" && Selects(term.Get("labelSelector"), "app.kubernetes.io/name", broker.Name)),
                $"{broker}: no required pod anti-affinity on kubernetes.io/hostname selecting app.kubernetes.io/name={broker.Name}: two nodes on one Kubernetes node are lost together, and with them the majority.");
            problems.Check(spec.At("persistence").Text("storage") is { Length: > 0 }, $"{broker}: no persistence.storage; a restarted node would come back empty.");
            foreach (var (section, resource) in new[] { ("requests", "cpu"), ("requests", "memory"), ("limits", "memory") })
            {
                problems.Check(spec.At("resources", section, resource).Text() is { Length: > 0 }, $"{broker}: no resources.{section}.{resource}.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void The_database_commits_on_a_standby_before_it_answers_and_no_two_instances_share_a_kubernetes_node()
    {
        var problems = new Problems();
        var databases = Kubernetes.DatabaseClusters.ToList();
        problems.Check(databases.Count > 0, $"No CloudNativePG Cluster ({KubernetesManifests.CloudNativePgApi}) under {KubernetesManifests.Folder}: the database is not deployed by CloudNativePG.");
        foreach (var database in databases)
        {
            var spec = database.Node.Get("spec");
            var instances = spec.Text("instances");
            problems.Check(int.TryParse(instances, out var count) && count >= 2, $"{database}: instances is '{instances}'; a primary needs at least one standby.");

            // Without a synchronous standby, a commit the hosts were told about can be lost in a failover (the outbox's
            // and the inbox's rows with it).
            var synchronous = spec.At("postgresql", "synchronous");
            var number = synchronous.Text("number");
            problems.Check(
                synchronous.Text("method") is "any" or "first" && int.TryParse(number, out var standbys) && standbys >= 1 && standbys < count,
                $"{database}: postgresql.synchronous is not method any|first with 1 ≤ number < instances (method '{synchronous.Text("method")}', number '{number}').");
            problems.Check(
                synchronous.Text("dataDurability") != "preferred",
                $"{database}: postgresql.synchronous.dataDurability is preferred: commits stop waiting for a standby when none is healthy.");

            var affinity = spec.Get("affinity");
            problems.Check(
                affinity.Text("enablePodAntiAffinity") != "false" && affinity.Text("podAntiAffinityType") == "required"
                    && (affinity.Text("topologyKey") ?? "kubernetes.io/hostname") == "kubernetes.io/hostname",
                $"{database}: pod anti-affinity is not required on kubernetes.io/hostname (podAntiAffinityType '{affinity.Text("podAntiAffinityType") ?? "preferred (default)"}'): the primary and its synchronous standby may share a Kubernetes node.");
            problems.Check(spec.At("storage").Text("size") is { Length: > 0 }, $"{database}: no storage.size.");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_role_and_database_a_host_connects_with_is_declared_on_the_database_cluster()
    {
        var problems = new Problems();
        var database = Single(Kubernetes.DatabaseClusters, $"CloudNativePG Cluster ({KubernetesManifests.CloudNativePgApi})", problems);
        var checkedAny = false;
        foreach (var (deployment, container, _) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            foreach (var (variable, connectionString) in Kubernetes.Environment(deployment, container, problems)
                .Where(x => x.Key.StartsWith("ConnectionStrings__", StringComparison.Ordinal)))
            {
                checkedAny = true;
                if (database is null)
                {
                    continue;
                }

                var parts = HostSettings.ConnectionStringParts(connectionString);
                var roleName = parts.GetValueOrDefault("Username") ?? "";
                var databaseName = parts.GetValueOrDefault("Database") ?? "";
                var where = $"{deployment}: {variable}";

                var role = database.Node.At("spec", "managed", "roles").Items().FirstOrDefault(x => x.Text("name") == roleName);
                if (role is null || role.Text("ensure") == "absent")
                {
                    problems.Add($"{where} connects as '{roleName}', which is not a managed role of {database} (spec.managed.roles), so nothing creates it.");
                }
                else
                {
                    problems.Check(role.Text("login") == "true", $"{where}: role {roleName} of {database} has no login: true.");
                    foreach (var privilege in new[] { "superuser", "createdb", "createrole", "replication", "bypassrls" }.Where(x => role.Text(x) == "true"))
                    {
                        problems.Add($"{where}: role {roleName} of {database} is given {privilege}; a service role owns its database and nothing more.");
                    }

                    // The operator sets the role's password from this Secret; the host's copy must be the same one.
                    var secretName = role.At("passwordSecret").Text("name") ?? "";
                    var secret = Kubernetes.Find("Secret", secretName, database.Namespace);
                    var credentials = secret is null ? new Dictionary<string, string>() : KubernetesManifests.Data(secret);
                    problems.Check(
                        secret?.Node.Text("type") == "kubernetes.io/basic-auth" && credentials.GetValueOrDefault("username") == roleName,
                        $"{where}: role {roleName}'s passwordSecret '{secretName}' is not a kubernetes.io/basic-auth Secret of namespace {database.Namespace} with username {roleName}.");
                    problems.Check(
                        secret is null || credentials.GetValueOrDefault("password") == parts.GetValueOrDefault("Password"),
                        $"{where}: its password is not the one {secret} gives role {roleName}.");
                }

                problems.Check(
                    Kubernetes.OfKind("Database", KubernetesManifests.CloudNativePgApi).Any(x => x.Namespace == database.Namespace
                        && x.Node.At("spec", "cluster").Text("name") == database.Name
                        && x.Node.At("spec").Text("name") == databaseName
                        && x.Node.At("spec").Text("owner") == roleName
                        && x.Node.At("spec").Text("ensure") != "absent"),
                    $"{where} uses database '{databaseName}', but no Database ({KubernetesManifests.CloudNativePgApi}) of {database} creates it owned by {roleName}.");
            }
        }

        Assert.True(checkedAny, "No Kubernetes host is given a connection string.");
        problems.AssertNone();
    }

    /// <summary>The one object of a list, or a problem: two brokers (or databases) would leave it unclear which one a host must name.</summary>
    internal static KubeObject? Single(IEnumerable<KubeObject> objects, string what, Problems problems)
    {
        var found = objects.ToList();
        problems.Check(found.Count == 1, $"{found.Count} {what} under {KubernetesManifests.Folder} ({string.Join(", ", found)}); expected exactly one.");
        return found.Count == 1 ? found[0] : null;
    }

    /// <summary>rabbitmq.conf's <c>key = value</c> lines (sysctl format), without comments.</summary>
    private static Dictionary<string, string> ConfSettings(string? conf) =>
        (conf ?? "").Split('\n').Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#') && line.Contains('=', StringComparison.Ordinal))
            .Select(line => line.Split('=', 2))
            .GroupBy(parts => parts[0].Trim(), StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.Last()[1].Trim(), StringComparer.Ordinal);

    /// <summary>Whether a label selector (matchLabels, or matchExpressions with In) selects pods labelled key=value.</summary>
    private static bool Selects(YamlNode? selector, string key, string value) =>
        selector.Get("matchLabels").Text(key) == value
        || selector.Get("matchExpressions").Items().Any(expression => expression.Text("key") == key
            && expression.Text("operator") == "In" && expression.Get("values").Items().Any(x => x.Text() == value));

    /// <summary>A container's ports by name (and by number, as text).</summary>
    private static Dictionary<string, int> ContainerPorts(YamlNode container)
    {
        var ports = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var port in container.Get("ports").Items())
        {
            var number = int.Parse(port.Text("containerPort")!, System.Globalization.CultureInfo.InvariantCulture);
            ports[number.ToString(System.Globalization.CultureInfo.InvariantCulture)] = number;
            if (port.Text("name") is { } name)
            {
                ports[name] = number;
            }
        }

        return ports;
    }

    private static int? Resolve(string? port, IReadOnlyDictionary<string, int> ports) =>
        port is not null && ports.TryGetValue(port, out var number) ? number : null;

    /// <summary>An image reference without its tag.</summary>
    private static string ImageRepository(string? image) =>
        image is null ? "" : image.LastIndexOf(':') is var colon && colon > image.LastIndexOf('/') ? image[..colon] : image;
}
