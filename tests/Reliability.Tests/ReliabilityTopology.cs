using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Reliability.Tests;

/// <summary>The host types a scenario can kill; the notification provider stub is test equipment, not a host of ours.</summary>
public enum HostKind
{
    Api,
    Workers,
    Sagas,
    DeadLetters,
}

/// <summary>
/// What every topology of this suite shares, and the one place that starts its hosts: the real processes —
/// Ingestion.Api, Workers, Sagas, DeadLetters (<see cref="InstancesPerHost"/> of each) and the notification provider
/// stub — with one set of settings, on a broker and databases the derived topology provides. Started once for all
/// scenarios of a collection; each scenario brings back whatever the previous one took away.
/// </summary>
public abstract class ReliabilityTopology(int instancesPerHost) : IAsyncLifetime
{
    public const string GitHubSecret = "reliability-github-secret";
    public static readonly string SigningKey = TestSigningKey.Generate();

    /// <summary>Short, so every signup reaches its terminal state (reminder, then expired) within a scenario's drain.</summary>
    public static readonly TimeSpan VerificationTimeout = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan DuplicateDetectionWindow = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan CleanupInterval = TimeSpan.FromSeconds(5);

    protected static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly string[] Services = ["Ingestion", "Workers", "Sagas", "DeadLetters"];

    private readonly Dictionary<string, ScratchDatabase> _databases = [];
    private readonly Dictionary<HostKind, HostProcess[]> _hosts = [];
    private readonly ConcurrentQueue<string> _exitedLogs = new();
    private readonly ConcurrentQueue<(DateTime At, string What)> _faults = new();
    private Dictionary<string, string> _settings = [];
    private int _nextApi;

    public int InstancesPerHost { get; } = instancesPerHost;

    public RabbitMqVirtualHost VirtualHost { get; private set; } = null!;

    public HostProcess Provider { get; private set; } = null!;

    /// <summary>Every poison message any scenario injected: the dead-letter store is shared by all scenarios.</summary>
    public ConcurrentBag<Guid> InjectedPoison { get; } = [];

    public string Token { get; private set; } = "";

    /// <summary>The first instance of a host type.</summary>
    public HostProcess this[HostKind kind] => _hosts[kind][0];

    public ScratchDatabase Database(string service) => _databases[service];

    public IEnumerable<(HostKind Kind, HostProcess Host)> Hosts => _hosts.SelectMany(x => x.Value.Select(host => (x.Key, host)));

    /// <summary>
    /// The API instance the next request attempt goes to, in turn: with two instances a retry may reach the other one,
    /// as behind a real load balancer.
    /// </summary>
    public Uri NextApiAddress()
    {
        var instances = _hosts[HostKind.Api];
        return instances[(int)((uint)Interlocked.Increment(ref _nextApi) % (uint)instances.Length)].BaseAddress;
    }

    /// <summary>Every host's output, including that of the instances a scenario killed: a failure shows what each did.</summary>
    public string AllLogs() => string.Join('\n', _exitedLogs.Concat(Hosts.Select(h => h.Host.Logs)));

    /// <summary>The warnings and errors of every host, killed instances included: what a failed scenario message shows.</summary>
    public string Problems() => string.Join('\n', AllLogs().Split('\n').Where(line =>
        line.Contains("\"@l\":\"Warning\"", StringComparison.Ordinal) || line.Contains("\"@l\":\"Error\"", StringComparison.Ordinal)
        || line.Contains("\"@l\":\"Fatal\"", StringComparison.Ordinal) || line.StartsWith("-----", StringComparison.Ordinal)));

    /// <summary>Records what a fault did and when, for the scenario's line in the report.</summary>
    public void NoteFault(string what) => _faults.Enqueue((DateTime.UtcNow, what));

    /// <summary>The faults noted since <paramref name="loadStarted"/>, in seconds into the load, and forgets them.</summary>
    public string TakeFaultTimeline(DateTime loadStarted)
    {
        var notes = new List<string>();
        while (_faults.TryDequeue(out var fault))
        {
            notes.Add($"{(fault.At - loadStarted).TotalSeconds:F1}s {fault.What}");
        }

        return string.Join("; ", notes);
    }

    /// <summary>A poison injector on this topology's broker and vhost.</summary>
    public abstract PoisonInjector CreatePoisonInjector();

    /// <summary>Every queue of the vhost and the messages it holds (the management API's figures lag by up to 5 s).</summary>
    public abstract Task<List<(string Queue, int Messages)>> QueueDepthsAsync();

    public async Task InitializeAsync()
    {
        var infrastructure = await PrepareInfrastructureAsync();
        VirtualHost = await RabbitMqVirtualHost.CreateAsync(infrastructure);
        foreach (var service in Services)
        {
            _databases[service] = await ScratchDatabase.CreateAsync(infrastructure, $"{DatabasePrefix}_{service.ToLowerInvariant()}");
        }

        Provider = HostProcess.StartAssembly(
            "NotificationProvider.Stub", RepositoryLayout.TestProgramAssembly("NotificationProvider.Stub"), new Dictionary<string, string>(), []);
        await Provider.WaitUntilReadyAsync(StartTimeout);
        _settings = HostSettings();
        foreach (var kind in Enum.GetValues<HostKind>())
        {
            _hosts[kind] = [.. Enumerable.Range(0, InstancesPerHost).Select(_ => Start(kind))];
        }

        await Task.WhenAll(Hosts.Select(h => h.Host.WaitUntilReadyAsync(StartTimeout)));
        await using var mint = HostProcess.StartAssembly(
            "Ingestion.Api dev-token", RepositoryLayout.HostAssembly("Ingestion.Api"), _settings,
            ["dev-token", "--scope", "commands:signup", "--subject", "reliability"]);
        Assert.Equal(0, await mint.WaitForExitAsync(StartTimeout));
        Token = mint.Output.Trim();
    }

    /// <summary>SIGKILL (no shutdown, no flush, no ack), then a new instance on the same queues and database.</summary>
    public async Task KillAndRestartAsync(HostKind kind, int instance = 0)
    {
        var killed = _hosts[kind][instance];
        await killed.KillAsync();
        _exitedLogs.Enqueue(killed.Logs);
        await killed.DisposeAsync();
        _hosts[kind][instance] = Start(kind);
        await _hosts[kind][instance].WaitUntilReadyAsync(StartTimeout);
    }

    /// <summary>Whatever a failed scenario left behind comes back: the infrastructure, the provider, every host.</summary>
    public async Task RestoreAsync()
    {
        await RestoreInfrastructureAsync();
        await SetProviderAsync("ok");
        foreach (var (kind, instances) in _hosts)
        {
            for (var i = 0; i < instances.Length; i++)
            {
                if (instances[i].HasExited)
                {
                    _exitedLogs.Enqueue(instances[i].Logs);
                    await instances[i].DisposeAsync();
                    instances[i] = Start(kind);
                }
            }
        }

        await Task.WhenAll(Hosts.Select(h => h.Host.WaitUntilReadyAsync(StartTimeout)));
    }

    public async Task SetProviderAsync(string mode, int delayMs = 0)
    {
        using var response = await Provider.Client.PutAsJsonAsync(new Uri("/behaviour", UriKind.Relative), new { mode, delayMs });
        response.EnsureSuccessStatusCode();
    }

    public HttpClient CreateApiClient()
    {
        var client = new HttpClient { BaseAddress = this[HostKind.Api].BaseAddress, Timeout = TimeSpan.FromSeconds(15) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    public async Task DisposeAsync()
    {
        foreach (var (_, host) in Hosts.ToList())
        {
            await host.DisposeAsync();
        }

        if (Provider is not null)
        {
            await Provider.DisposeAsync();
        }

        foreach (var database in _databases.Values)
        {
            await database.DisposeAsync();
        }

        if (VirtualHost is not null)
        {
            await VirtualHost.DisposeAsync();
        }

        await ReleaseInfrastructureAsync();
    }

    /// <summary>Prefix of the scratch databases' names, so a leftover one says which topology made it.</summary>
    protected abstract string DatabasePrefix { get; }

    /// <summary>Takes turns with other suites, checks the servers run; returns where the vhost and databases are made.</summary>
    protected abstract Task<InfrastructureSettings> PrepareInfrastructureAsync();

    /// <summary>How the hosts reach the broker (vhost included) and anything else specific to this infrastructure.</summary>
    protected abstract void AddInfrastructureSettings(Dictionary<string, string> settings);

    /// <summary>Brings back whatever a scenario took away (a stopped broker, a partition, a promoted standby…).</summary>
    protected abstract Task RestoreInfrastructureAsync();

    protected abstract Task ReleaseInfrastructureAsync();

    /// <summary>The queues' depths from one management API's JSON list of queues.</summary>
    protected static List<(string Queue, int Messages)> Depths(IEnumerable<JsonElement> queues) =>
        [.. queues.Select(q => (
            q.GetProperty("name").GetString()!,
            q.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Number ? messages.GetInt32() : 0))];

    private HostProcess Start(HostKind kind) => HostProcess.Start(
        kind switch
        {
            HostKind.Api => "Ingestion.Api",
            HostKind.Workers => "Workers",
            HostKind.Sagas => "Sagas",
            HostKind.DeadLetters => "DeadLetters",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        },
        _settings);

    private Dictionary<string, string> HostSettings()
    {
        var settings = new Dictionary<string, string>
        {
            ["Backbone:Transport"] = "RabbitMq",
            ["Backbone:RabbitMq:VirtualHost"] = VirtualHost.Name,
            ["Backbone:Auth:SigningKeys:0"] = SigningKey,
            ["Backbone:Ingestion:Sources:github:Scheme"] = "GitHub",
            ["Backbone:Ingestion:Sources:github:Secrets:0"] = GitHubSecret,
            ["Backbone:Signups:VerificationTimeout"] = VerificationTimeout.ToString(),
            ["Backbone:Notifications:ProviderUrl"] = Provider.BaseAddress.ToString(),
            // The last redelivery comes after the provider client's circuit breaker (15 s) has closed again.
            ["Backbone:Notifications:RedeliveryDelays:0"] = "00:00:01",
            ["Backbone:Notifications:RedeliveryDelays:1"] = "00:00:05",
            ["Backbone:Notifications:RedeliveryDelays:2"] = "00:00:20",
            // A short duplicate-detection window with frequent cleanup, so the soak sees the inbox reach its steady
            // size; every redelivery a scenario causes (crash, outage, provider redelivery ≤ 26 s) falls well inside it.
            // That includes an outbox group re-sent after its sender was killed, then its re-sender too: it waits for
            // the hand-off lease and then each claim lease, so those are short here. With the default 60 s claim lease
            // the kill-api scenario (a SIGKILL every ~10 s) counted 6–16 webhooks twice in two runs — a re-send can come
            // 70 s after the first copy, when the window has forgotten it — and none with these.
            ["Backbone:Messaging:HandoffLease"] = "00:00:05",
            ["Backbone:Messaging:DeliveryLease"] = "00:00:10",
            ["Backbone:Messaging:DuplicateDetectionWindow"] = DuplicateDetectionWindow.ToString(),
            ["Backbone:Messaging:CleanupInterval"] = CleanupInterval.ToString(),
            // A consume whose "delivered" mark was lost to the fault (its messages sent, its outbox rows kept) is adopted
            // and re-sent after OrphanAfter. At the default 5 minutes that outlasted the 2-minute drain (CI run 6:
            // database-restart "Sagas: 1 outbox row(s) still pending"), and the window (60 s) that deduplicates the
            // re-sent copy downstream; 15 s is inside both.
            ["Backbone:Messaging:OrphanAfter"] = "00:00:15",
            // New error queues are captured within a second, so a scenario's drain does not wait for discovery.
            ["Backbone:DeadLetters:DiscoveryInterval"] = "00:00:01",
        };
        AddInfrastructureSettings(settings);
        foreach (var (service, database) in _databases)
        {
            // A short connect timeout: while the database is down a request fails fast (503) instead of hanging 15 s.
            settings[$"ConnectionStrings:{service}"] = database.ConnectionString + ";Timeout=3";
        }

        return settings;
    }
}
