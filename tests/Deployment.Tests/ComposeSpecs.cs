using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace EventBackbone.Deployment.Tests;

public sealed partial class ComposeSpecs
{
    private static readonly ComposeFile Compose = ComposeFile.Current;

    [Fact]
    public void Every_file_the_compose_file_references_exists()
    {
        var problems = new Problems();
        foreach (var (service, node) in Compose.Services)
        {
            if (Compose.BuildContext(service) is { } context)
            {
                // The Dockerfiles copy paths relative to the repository root; another context would miss every one.
                problems.Check(context == ".", $"{service}: build context is '{context}', not the repository root the Dockerfiles expect.");
                var dockerfile = Compose.DockerfilePath(service)!;
                problems.Check(Repository.Exists(dockerfile), $"{service}: Dockerfile {dockerfile} does not exist.");
            }

            foreach (var source in BindMountSources(node))
            {
                problems.Check(Repository.Exists(source), $"{service}: mounts {source}, which does not exist.");
            }

            foreach (var envFile in EnvFiles(node))
            {
                problems.Check(Repository.Exists(envFile), $"{service}: env_file {envFile} does not exist.");
            }
        }

        foreach (var section in new[] { "configs", "secrets" })
        {
            foreach (var (name, definition) in Compose.Root.Get(section).Entries())
            {
                if (definition.Text("file") is { } file)
                {
                    problems.Check(Repository.Exists(InComposeFolder(file)), $"{section}.{name}: file {InComposeFolder(file)} does not exist.");
                }
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_variable_the_compose_file_uses_is_defined_in_env_example()
    {
        var undefined = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var scalar in Scalars(Compose.Root))
        {
            Compose.Interpolate(scalar, undefined);
        }

        Assert.NotEmpty(Compose.Variables);
        Assert.True(undefined.Count == 0, $"Used in {ComposeFile.RelativePath} without a value in {ComposeFile.EnvExample}: {string.Join(", ", undefined)}");
    }

    [Fact]
    public void Every_distributed_host_is_a_service_built_from_its_own_project()
    {
        var problems = new Problems();
        var deployed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var service in Compose.HostServices)
        {
            if (Compose.Host(service) is { } host)
            {
                deployed[host.RelativePath] = service;
            }
            else
            {
                problems.Add($"{service}: its Dockerfile ({Compose.DockerfilePath(service)}) publishes no project that exists.");
            }
        }

        foreach (var host in DistributedHosts())
        {
            problems.Check(deployed.ContainsKey(host.RelativePath), $"{host.RelativePath} is a host, but no compose service runs it.");
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_host_listens_on_all_interfaces_at_the_port_it_publishes_exposes_and_probes()
    {
        var problems = new Problems();
        foreach (var service in Compose.HostServices)
        {
            if (Compose.Host(service) is not { } host)
            {
                continue;
            }

            var node = Compose.Services[service];
            if (ListeningPort(service, host, problems) is not { } port)
            {
                continue;
            }

            foreach (var published in ContainerPorts(node))
            {
                problems.Check(published == port, $"{service}: publishes container port {published}, but the host listens on {port}.");
            }

            var dockerfile = Dockerfile.Load(Compose.DockerfilePath(service)!);
            foreach (var exposed in dockerfile.ExposedPorts)
            {
                problems.Check(exposed == port, $"{service}: {dockerfile.RelativePath} exposes {exposed}, but the host listens on {port}.");
            }

            var probe = string.Join(' ', node.At("healthcheck", "test").Items().Select(x => x.Text()).DefaultIfEmpty(node.At("healthcheck", "test").Text()));
            var urls = HttpUrl().Matches(probe).Select(match => new Uri(match.Value)).ToList();
            problems.Check(urls.Count > 0, $"{service}: no health check probing the host over HTTP.");
            foreach (var url in urls)
            {
                problems.Check(url.Port == port, $"{service}: health check probes port {url.Port}, but the host listens on {port}.");
                problems.Check(
                    HostSettings.HealthPaths.Contains(url.AbsolutePath, StringComparer.Ordinal),
                    $"{service}: health check probes {url.AbsolutePath}, which is not one of {string.Join(", ", HostSettings.HealthPaths)}.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_dependency_is_a_service_and_one_with_a_health_check_is_awaited_healthy()
    {
        var problems = new Problems();
        foreach (var (service, node) in Compose.Services)
        {
            foreach (var (dependency, condition) in Dependencies(node))
            {
                if (!Compose.Services.TryGetValue(dependency, out var target))
                {
                    problems.Add($"{service}: depends on {dependency}, which is not a service.");
                    continue;
                }

                var checkedHealth = target.Get("healthcheck") is { } healthcheck && healthcheck.Text("disable") != "true";
                problems.Check(
                    !checkedHealth || condition == "service_healthy",
                    $"{service}: waits for {dependency} with '{condition}'; it has a health check, so wait for service_healthy.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_address_a_host_is_given_names_a_service_it_depends_on_at_the_port_that_service_listens_on()
    {
        var problems = new Problems();
        var checkedAny = false;
        foreach (var service in Compose.HostServices)
        {
            var dependencies = Dependencies(Compose.Services[service]).Select(x => x.Service).ToHashSet(StringComparer.Ordinal);
            var raw = Compose.RawEnvironment(service);
            foreach (var (variable, target, port) in Addresses(Compose.Environment(service)))
            {
                checkedAny = true;
                // A value that is wholly one ${VARIABLE} is the operator's to supply, e.g. the console's identity
                // provider, which runs outside this topology; an address written here must name one of its services.
                if (raw.TryGetValue(variable, out var written) && WholeSubstitution().IsMatch(written))
                {
                    continue;
                }

                if (!Compose.Services.ContainsKey(target))
                {
                    problems.Add($"{service}: {variable} names '{target}', which is not a service of {ComposeFile.RelativePath}.");
                    continue;
                }

                problems.Check(dependencies.Contains(target), $"{service}: {variable} names {target}, but {service} does not depend on it.");
                if (port is not null && Compose.Host(target) is { } targetHost && ListeningPort(target, targetHost, new Problems()) is { } listening)
                {
                    problems.Check(port == listening, $"{service}: {variable} calls {target} on port {port}, but it listens on {listening}.");
                }
            }
        }

        Assert.True(checkedAny, "No host is given the address of another service: the addresses were not found.");
        problems.AssertNone();
    }

    [Fact]
    public void The_collector_takes_what_the_hosts_send_and_exports_to_services_it_depends_on()
    {
        var (collector, configFile) = Compose.Services
            .SelectMany(x => BindMountSources(x.Value).Select(source => (Service: x.Key, Source: source)))
            .Single(x => x.Source.EndsWith(".yaml", StringComparison.Ordinal) && Yaml.LoadDocuments(x.Source).Single().Get("exporters") is not null);
        var config = Yaml.LoadDocuments(configFile).Single();
        var problems = new Problems();

        foreach (var (pipeline, definition) in config.At("service", "pipelines").Entries())
        {
            foreach (var section in new[] { "receivers", "processors", "exporters" })
            {
                foreach (var component in definition.Get(section).Items().Select(x => x.Text()!))
                {
                    problems.Check(config.At(section, component) is not null, $"{configFile}: pipeline {pipeline} uses {section}.{component}, which is not defined.");
                }
            }
        }

        var dependencies = Dependencies(Compose.Services[collector]).Select(x => x.Service).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, exporter) in config.Get("exporters").Entries())
        {
            if (exporter.Text("endpoint") is { } endpoint && endpoint.Split(':')[0] is var target && !HostSettings.IsAllInterfaces(target))
            {
                problems.Check(Compose.Services.ContainsKey(target), $"{configFile}: exporter {name} sends to {target}, which is not a service.");
                problems.Check(dependencies.Contains(target), $"{configFile}: exporter {name} sends to {target}, which {collector} does not depend on.");
            }
        }

        var receiverPorts = config.At("receivers", "otlp", "protocols").Entries()
            .Select(x => x.Value.Text("endpoint")?.Split(':')[^1])
            .ToHashSet(StringComparer.Ordinal);
        foreach (var service in Compose.HostServices)
        {
            if (Compose.Environment(service).TryGetValue("OTEL_EXPORTER_OTLP_ENDPOINT", out var endpoint))
            {
                var uri = new Uri(endpoint);
                problems.Check(uri.Host == collector, $"{service}: sends telemetry to {uri.Host}, not to the collector ({collector}).");
                problems.Check(receiverPorts.Contains(uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), $"{service}: sends telemetry to port {uri.Port}, where {configFile} has no OTLP receiver.");
            }
        }

        problems.AssertNone();
    }

    [Fact]
    public void Every_host_is_given_longer_to_stop_than_its_shutdown_timeout()
    {
        var problems = new Problems();
        var hosts = Compose.HostServices.Where(service => Compose.Host(service) is not null).ToList();
        Assert.NotEmpty(hosts);
        foreach (var service in hosts)
        {
            // Compose sends SIGKILL 10 s after SIGTERM unless told otherwise: in-flight work would be cut off.
            var grace = Compose.Services[service].Text("stop_grace_period");
            var shutdown = Compose.Host(service)!.ShutdownTimeout(Compose.Environment(service));
            problems.Check(
                grace is not null && ComposeDuration(grace) >= shutdown + KubernetesSpecs.ShutdownMargin,
                $"{service}: stop_grace_period is '{grace ?? "10s (default)"}', but the host may take {shutdown.TotalSeconds} s to stop: at least {(shutdown + KubernetesSpecs.ShutdownMargin).TotalSeconds}s.");
        }

        problems.AssertNone();
    }

    /// <summary>The hosts a distributed deployment runs: every web project under src/, except the embedded one-process mode.</summary>
    internal static IEnumerable<HostProject> DistributedHosts() =>
        HostProject.WebProjects("src").Where(host => host.Folder != "src/Embedded");

    /// <summary>The port a host service listens on, or null (with the reason added) where that is wrong or unknown.</summary>
    internal static int? ListeningPort(string service, HostProject host, Problems problems)
    {
        var (urls, source) = HostSettings.EffectiveUrls(host, Compose.Environment(service));
        if (urls is null || HostSettings.Addresses(urls) is not { Count: > 0 } addresses)
        {
            problems.Add($"{service}: cannot tell where {host.Name} listens (Urls from {source}: '{urls}').");
            return null;
        }

        foreach (var (address, _) in addresses.Where(x => !HostSettings.IsAllInterfaces(x.Host)))
        {
            problems.Add($"{service}: listens on {address} (Urls from {source}), out of reach of other containers; set Urls to http://0.0.0.0:<port>.");
        }

        var ports = addresses.Select(x => x.Port).Distinct().ToList();
        if (ports.Count != 1)
        {
            problems.Add($"{service}: listens on several ports ({string.Join(", ", ports)}); the checks expect one.");
            return null;
        }

        return ports[0];
    }

    /// <summary>Host names the environment points a service at: URLs, connection-string hosts and *__Host settings.</summary>
    internal static IEnumerable<(string Variable, string Host, int? Port)> Addresses(IReadOnlyDictionary<string, string> environment)
    {
        foreach (var (variable, value) in environment)
        {
            if (HostSettings.FrameworkVariables.ContainsKey(variable))
            {
                continue; // where the host itself listens, not something it calls
            }

            if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "amqp")
            {
                yield return (variable, uri.Host, uri.IsDefaultPort ? null : uri.Port);
            }
            else if (value.Contains("Host=", StringComparison.OrdinalIgnoreCase)
                && HostSettings.ConnectionStringParts(value).TryGetValue("Host", out var host))
            {
                yield return (variable, host, HostSettings.ConnectionStringParts(value).TryGetValue("Port", out var port) ? int.Parse(port, System.Globalization.CultureInfo.InvariantCulture) : null);
            }
            else if (variable.EndsWith("__Host", StringComparison.Ordinal))
            {
                yield return (variable, value, null);
            }
        }
    }

    internal static IEnumerable<(string Service, string Condition)> Dependencies(YamlNode service)
    {
        var dependsOn = service.Get("depends_on");
        return dependsOn is YamlSequenceNode
            ? dependsOn.Items().Select(x => (x.Text()!, "service_started"))
            : dependsOn.Entries().Select(x => (x.Key, x.Value.Text("condition") ?? "service_started"));
    }

    private static IEnumerable<int> ContainerPorts(YamlNode service) =>
        service.Get("ports").Items().Select(port => port is YamlScalarNode scalar
            // [ip:][host:]container[/protocol]
            ? int.Parse(scalar.Value!.Split('/')[0].Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture)
            : int.Parse(port.Text("target")!, System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Files and folders a service mounts from this machine (relative sources are relative to compose/).</summary>
    private static IEnumerable<string> BindMountSources(YamlNode service) =>
        service.Get("volumes").Items()
            .Select(volume => volume is YamlScalarNode scalar ? scalar.Value!.Split(':')[0] : volume.Text("type") == "bind" ? volume.Text("source") : null)
            .Where(source => source is not null && (source.StartsWith('.') || source.StartsWith('/')))
            .Select(source => InComposeFolder(source!));

    private static IEnumerable<string> EnvFiles(YamlNode service) =>
        service.Get("env_file") switch
        {
            YamlScalarNode single => [InComposeFolder(single.Value!)],
            { } list => list.Items().Select(x => InComposeFolder(x.Text() ?? x.Text("path")!)),
            null => [],
        };

    private static string InComposeFolder(string path) => Repository.Relative(Repository.FullPath(Path.Combine(ComposeFile.Folder, path)));

    private static IEnumerable<string> Scalars(YamlNode node) =>
        node switch
        {
            YamlScalarNode scalar => [scalar.Value ?? ""],
            YamlSequenceNode sequence => sequence.Children.SelectMany(Scalars),
            YamlMappingNode mapping => mapping.Children.SelectMany(x => Scalars(x.Key).Concat(Scalars(x.Value))),
            _ => [],
        };

    /// <summary>A Compose duration such as <c>45s</c>, <c>1m30s</c> or <c>500ms</c>.</summary>
    private static TimeSpan ComposeDuration(string value) =>
        DurationPart().Matches(value).Aggregate(TimeSpan.Zero, (total, part) =>
        {
            var amount = double.Parse(part.Groups["amount"].Value, System.Globalization.CultureInfo.InvariantCulture);
            return total + part.Groups["unit"].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                "us" => TimeSpan.FromMicroseconds(amount),
                _ => TimeSpan.Zero, // ns
            };
        });

    [GeneratedRegex(@"(?<amount>\d+(?:\.\d+)?)(?<unit>ms|us|ns|h|m|s)")]
    private static partial Regex DurationPart();

    [GeneratedRegex(@"^\$\{[A-Z0-9_]+\}$")]
    private static partial Regex WholeSubstitution();

    [GeneratedRegex(@"https?://[^\s""']+")]
    private static partial Regex HttpUrl();
}
