using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Xunit;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// The local three-node cluster of <c>bash scripts/infra.sh cluster up</c>, as <c>cluster env</c> describes it (the
/// script's own values when those variables are not set, as <see cref="InfrastructureSettings"/> does for the single
/// node: the default test run starts the cluster but must not export <c>Backbone__RabbitMq__Nodes__*</c> to every suite,
/// whose in-process hosts would then refuse Host and Nodes together). Its management API is asked through any node
/// that answers: the node a spec kills takes its own API with it.
/// </summary>
public sealed class RabbitMqCluster : IDisposable
{
    public const string StartHint = "Start it with `bash scripts/infra.sh cluster up` (scripts/test.sh does).";

    /// <summary>The name of the machine-wide lock every suite that takes cluster nodes away holds while it does.</summary>
    private const string LockName = "rabbitmq-postgres-cluster";

    /// <summary>Where the node of index i (0-based, as in the settings) writes its Erlang VM's pid.</summary>
    private const string PidFileFormat = "/var/lib/rabbitmq/cluster/{0}/pid";

    private readonly HttpClient[] _management;

    private RabbitMqCluster(IReadOnlyList<string> nodes, IReadOnlyList<string> nodeNames, IReadOnlyList<Uri> managementUrls, string username, string password)
    {
        Nodes = nodes;
        NodeNames = nodeNames;
        ManagementUrls = managementUrls;
        Username = username;
        Password = password;
        _management = [.. managementUrls.Select(url =>
        {
            var client = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(15) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
                "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));
            return client;
        })];
    }

    /// <summary><c>host:port</c> of each node, as <c>Backbone:RabbitMq:Nodes</c> takes them.</summary>
    public IReadOnlyList<string> Nodes { get; }

    /// <summary>The Erlang node names (<c>cluster1@host</c>…), which the management API reports.</summary>
    public IReadOnlyList<string> NodeNames { get; }

    public IReadOnlyList<Uri> ManagementUrls { get; }

    public string Username { get; }

    public string Password { get; }

    /// <summary>Fails (never skips) when the cluster's nodes do not answer.</summary>
    public static async Task<RabbitMqCluster> FromEnvironmentAsync()
    {
        // The script's node names: cluster<i>@<short host name>.
        var host = System.Net.Dns.GetHostName().Split('.')[0];
        var nodes = List("Backbone__RabbitMq__Nodes__", i => $"127.0.0.1:{5681 + i}");
        var names = List("Backbone__Cluster__RabbitMq__NodeNames__", i => $"cluster{i + 1}@{host}");
        var urls = List("Backbone__Cluster__RabbitMq__ManagementUrls__", i => $"http://127.0.0.1:{15681 + i}");
        var cluster = new RabbitMqCluster(
            nodes, names, [.. urls.Select(x => new Uri(x))],
            Environment.GetEnvironmentVariable("Backbone__Cluster__RabbitMq__Username") ?? "backbone",
            Environment.GetEnvironmentVariable("Backbone__Cluster__RabbitMq__Password") ?? "backbone");
        foreach (var node in nodes)
        {
            var (nodeHost, port) = HostAndPort(node);
            try
            {
                await InfrastructureProbe.EnsureRabbitMqReachableAsync(nodeHost, port);
            }
            catch (InfrastructureUnavailableException down)
            {
                cluster.Dispose();
                throw new InfrastructureUnavailableException($"The RabbitMQ cluster's node {node} does not answer. {StartHint}", down);
            }
        }

        return cluster;
    }

    /// <summary>
    /// Suites that kill, restart or cut off the cluster's nodes take turns (test assemblies run in parallel): a node one
    /// suite kills must not be the one another suite's scenario is counting on.
    /// </summary>
    public static Task<ExclusiveInfrastructure> AcquireAsync() => ExclusiveInfrastructure.AcquireAsync(LockName, TimeSpan.FromMinutes(30));

    /// <summary>Settings for the test helpers that take one broker (a vhost of its own): node 1 and its management API.</summary>
    public InfrastructureSettings AsInfrastructure(InfrastructureSettings postgres)
    {
        var (host, port) = HostAndPort(Nodes[0]);
        return postgres with { RabbitHost = host, RabbitPort = port, RabbitUsername = Username, RabbitPassword = Password, RabbitManagementUrl = ManagementUrls[0] };
    }

    /// <summary>A queue's JSON from the management API (any node), or null when it does not exist (yet).</summary>
    public async Task<JsonElement?> QueueAsync(string vhost, string queue)
    {
        var answer = await GetAsync($"api/queues/{Uri.EscapeDataString(vhost)}/{Uri.EscapeDataString(queue)}");
        return answer;
    }

    /// <summary>Every queue of the vhost, as the management API (any node) lists them; empty when the vhost has none.</summary>
    public async Task<IReadOnlyList<JsonElement>> QueuesAsync(string vhost) =>
        await GetAsync($"api/queues/{Uri.EscapeDataString(vhost)}") is { } list ? [.. list.EnumerateArray()] : [];

    /// <summary>
    /// The Erlang names of the nodes that node <paramref name="index"/> (0-based) sees running, from its own management
    /// API: in a partition the two sides disagree, and a paused node does not answer at all (an exception here).
    /// </summary>
    public async Task<IReadOnlyList<string>> RunningNodesAsync(int index)
    {
        using var response = await _management[index].GetAsync(new Uri("api/nodes", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        var nodes = await response.Content.ReadFromJsonAsync<JsonElement>();
        return [.. nodes.EnumerateArray().Where(x => x.TryGetProperty("running", out var running) && running.GetBoolean()).Select(x => x.GetProperty("name").GetString()!)];
    }

    /// <summary>The Erlang names of the nodes that hold the vhost's client connections right now.</summary>
    public async Task<IReadOnlyList<string>> ConnectionNodesAsync(string vhost)
    {
        var connections = await GetAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}/connections");
        return connections is { } list ? [.. list.EnumerateArray().Select(x => x.GetProperty("node").GetString()!)] : [];
    }

    /// <summary>SIGKILLs the node's Erlang VM (no shutdown, no goodbye to its clients or peers).</summary>
    public void Kill(string nodeName)
    {
        var index = NodeNames.ToList().IndexOf(nodeName);
        Assert.True(index >= 0, $"{nodeName} is not one of {string.Join(", ", NodeNames)}.");
        var pidFile = string.Format(CultureInfo.InvariantCulture, PidFileFormat, index + 1);
        var pid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        using var process = Process.GetProcessById(pid);
        // Process.Kill is SIGKILL on Linux.
        process.Kill();
        process.WaitForExit(TimeSpan.FromMinutes(1));
    }

    /// <summary>Starts what is down again (<c>cluster up</c> is idempotent and waits for the nodes to rejoin).</summary>
    public static Task RestartStoppedNodesAsync() => ScriptAsync("cluster", "up");

    /// <summary>Runs <c>bash scripts/infra.sh …</c>, e.g. <c>cluster partition 2</c>; fails with its output when it fails.</summary>
    public static Task<string> ScriptAsync(params string[] arguments) => RunAsync("bash", ["scripts/infra.sh", .. arguments]);

    /// <summary>Runs a command from the repository's root; fails with its output when it fails, else returns it.</summary>
    public static async Task<string> RunAsync(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = RepositoryLayout.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"`{program} {string.Join(' ', arguments)}` failed ({process.ExitCode}):\n{await output}\n{await errors}");
        return await errors + await output;
    }

    public void Dispose()
    {
        foreach (var client in _management)
        {
            client.Dispose();
        }
    }

    private static (string Host, int Port) HostAndPort(string node)
    {
        var parts = node.Split(':');
        return (parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private static List<string> List(string prefix, Func<int, string> fallback) =>
        [.. Enumerable.Range(0, 3).Select(i =>
            Environment.GetEnvironmentVariable(prefix + i.ToString(CultureInfo.InvariantCulture)) is { Length: > 0 } value ? value : fallback(i))];

    /// <summary>GET from the first management API that answers; null on 404.</summary>
    private async Task<JsonElement?> GetAsync(string path)
    {
        HttpRequestException? last = null;
        foreach (var client in _management)
        {
            try
            {
                using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
                if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    return null;
                }

                response.EnsureSuccessStatusCode();
                return await response.Content.ReadFromJsonAsync<JsonElement>();
            }
            catch (HttpRequestException unreachable)
            {
                last = unreachable;
            }
            catch (TaskCanceledException)
            {
                // A node that was just killed may hold the request until the time-out: ask the next.
            }
        }

        throw new InfrastructureUnavailableException($"No management API of the cluster answered {path}. {StartHint}", last!);
    }
}
