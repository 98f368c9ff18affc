using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Cluster.Tests;

/// <summary>
/// The local three-node cluster of <c>bash scripts/infra.sh cluster up</c>, as <c>cluster env</c> describes it. Its
/// management API is asked through any node that answers: the node a spec kills takes its own API with it.
/// </summary>
public sealed class RabbitMqCluster : IDisposable
{
    public const string StartHint =
        "Start it with `bash scripts/infra.sh cluster up` and run the specs with its settings: "
        + "`eval \"$(bash scripts/infra.sh cluster env)\"; dotnet test tests/Cluster.Tests -c Release`.";

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

    /// <summary>Fails (never skips) when the cluster's settings are not in the environment or its nodes do not answer.</summary>
    public static async Task<RabbitMqCluster> FromEnvironmentAsync()
    {
        var nodes = List("Backbone__RabbitMq__Nodes__");
        var names = List("Backbone__Cluster__RabbitMq__NodeNames__");
        var urls = List("Backbone__Cluster__RabbitMq__ManagementUrls__");
        if (nodes.Count < 3 || names.Count != nodes.Count || urls.Count != nodes.Count)
        {
            throw new InfrastructureUnavailableException(
                $"The RabbitMQ cluster's settings are not in the environment (Backbone__RabbitMq__Nodes__0…2 and "
                + $"Backbone__Cluster__RabbitMq__NodeNames__/ManagementUrls__0…2; found {nodes.Count}, {names.Count}, {urls.Count}). {StartHint}");
        }

        var cluster = new RabbitMqCluster(
            nodes, names, [.. urls.Select(x => new Uri(x))],
            Environment.GetEnvironmentVariable("Backbone__Cluster__RabbitMq__Username") ?? "backbone",
            Environment.GetEnvironmentVariable("Backbone__Cluster__RabbitMq__Password") ?? "backbone");
        foreach (var node in nodes)
        {
            var (host, port) = HostAndPort(node);
            try
            {
                await InfrastructureProbe.EnsureRabbitMqReachableAsync(host, port);
            }
            catch (InfrastructureUnavailableException down)
            {
                cluster.Dispose();
                throw new InfrastructureUnavailableException($"The cluster's node {node} does not answer. {StartHint}", down);
            }
        }

        return cluster;
    }

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
    public static async Task RestartStoppedNodesAsync()
    {
        using var up = Process.Start(new ProcessStartInfo("bash", ["scripts/infra.sh", "cluster", "up"])
        {
            WorkingDirectory = RepositoryLayout.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = up.StandardOutput.ReadToEndAsync();
        var errors = up.StandardError.ReadToEndAsync();
        await up.WaitForExitAsync();
        Assert.True(up.ExitCode == 0, $"`infra.sh cluster up` failed ({up.ExitCode}):\n{await output}\n{await errors}");
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

    private static List<string> List(string prefix)
    {
        var values = new List<string>();
        for (var i = 0; Environment.GetEnvironmentVariable(prefix + i.ToString(CultureInfo.InvariantCulture)) is { Length: > 0 } value; i++)
        {
            values.Add(value);
        }

        return values;
    }

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
