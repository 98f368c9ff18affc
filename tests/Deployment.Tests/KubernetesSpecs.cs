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
    public void Every_address_a_host_is_given_is_a_service_of_its_namespace_or_a_full_domain_name()
    {
        var problems = new Problems();
        var checkedAny = false;
        foreach (var (deployment, container, _) in ConfigurationSpecs.KubernetesHosts(problems))
        {
            foreach (var (variable, target, _) in ComposeSpecs.Addresses(Kubernetes.Environment(deployment, container, problems)))
            {
                checkedAny = true;
                // A dotted name is outside the namespace on purpose (the notification provider's placeholder domain).
                problems.Check(
                    target.Contains('.', StringComparison.Ordinal) || Kubernetes.Find("Service", target, deployment.Namespace) is not null,
                    $"{deployment}: {variable} names '{target}', which is not a Service in namespace {deployment.Namespace}.");
            }
        }

        Assert.True(checkedAny, "No Kubernetes host is given the address of another service: the addresses were not found.");
        problems.AssertNone();
    }

    [Fact]
    public void The_broker_the_database_and_the_collector_are_external_names()
    {
        var problems = new Problems();
        var external = Kubernetes.OfKind("Service").Where(x => x.Node.At("spec", "type").Text() == "ExternalName").ToList();
        foreach (var name in new[] { "rabbitmq", "postgres", "otel-collector" })
        {
            var service = external.FirstOrDefault(x => x.Name == name);
            problems.Check(service?.Node.At("spec", "externalName").Text() is { Length: > 0 }, $"No ExternalName Service '{name}' with an externalName.");
        }

        problems.AssertNone();
    }

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
