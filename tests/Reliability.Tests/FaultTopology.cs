using System.Net.Http.Headers;
using System.Net.Http.Json;
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
/// The distributed topology as real processes — Ingestion.Api, Workers, Sagas, DeadLetters and the notification
/// provider stub — on the expendable RabbitMQ node and the expendable PostgreSQL cluster, so scenarios can stop the
/// broker or the database under load without touching what other suites use. Started once for all scenarios; each
/// scenario brings back whatever the previous one took away.
/// </summary>
public sealed class FaultTopology : IAsyncLifetime
{
    public const string GitHubSecret = "reliability-github-secret";
    public static readonly string SigningKey = TestSigningKey.Generate();

    /// <summary>Short, so every signup reaches its terminal state (reminder, then expired) within a scenario's drain.</summary>
    public static readonly TimeSpan VerificationTimeout = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan DuplicateDetectionWindow = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan CleanupInterval = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly string[] Services = ["Ingestion", "Workers", "Sagas", "DeadLetters"];

    private readonly Dictionary<string, ScratchDatabase> _databases = [];
    private readonly Dictionary<HostKind, HostProcess> _hosts = [];
    private readonly List<string> _exitedLogs = [];
    private ExclusiveInfrastructure? _brokerTurn;
    private ExclusiveInfrastructure? _databaseTurn;
    private Dictionary<string, string> _settings = [];

    public ExpendableRabbitMq Broker { get; } = ExpendableRabbitMq.FromEnvironment();

    public ExpendablePostgres Postgres { get; } = ExpendablePostgres.FromEnvironment();

    public RabbitMqVirtualHost VirtualHost { get; private set; } = null!;

    public HostProcess Provider { get; private set; } = null!;

    /// <summary>Every poison message any scenario injected: the dead-letter store is shared by all scenarios.</summary>
    public System.Collections.Concurrent.ConcurrentBag<Guid> InjectedPoison { get; } = [];

    public string Token { get; private set; } = "";

    public HostProcess this[HostKind kind] => _hosts[kind];

    public ScratchDatabase Database(string service) => _databases[service];

    public IEnumerable<(HostKind Kind, HostProcess Host)> Hosts => _hosts.Select(x => (x.Key, x.Value));

    /// <summary>Every host's output, including that of the instances a scenario killed: a failure shows what each did.</summary>
    public string AllLogs() => string.Join('\n', _exitedLogs.Concat(_hosts.Values.Select(h => h.Logs)));

    /// <summary>The warnings and errors of every host, killed instances included: what a failed scenario message shows.</summary>
    public string Problems() => string.Join('\n', AllLogs().Split('\n').Where(line =>
        line.Contains("\"@l\":\"Warning\"", StringComparison.Ordinal) || line.Contains("\"@l\":\"Error\"", StringComparison.Ordinal)
        || line.Contains("\"@l\":\"Fatal\"", StringComparison.Ordinal) || line.StartsWith("-----", StringComparison.Ordinal)));

    public async Task InitializeAsync()
    {
        // Other suites stop and start the same expendable servers: take turns, never pull them from under each other.
        _brokerTurn = await ExpendableRabbitMq.AcquireAsync();
        _databaseTurn = await ExpendablePostgres.AcquireAsync();
        await Broker.EnsureRunningAsync();
        await Postgres.EnsureRunningAsync();
        VirtualHost = await RabbitMqVirtualHost.CreateAsync(Broker.Settings);
        foreach (var service in Services)
        {
            _databases[service] = await ScratchDatabase.CreateAsync(Postgres.Settings, $"faults_{service.ToLowerInvariant()}");
        }

        Provider = HostProcess.StartAssembly(
            "NotificationProvider.Stub", RepositoryLayout.TestProgramAssembly("NotificationProvider.Stub"), new Dictionary<string, string>(), []);
        await Provider.WaitUntilReadyAsync(StartTimeout);
        _settings = HostSettings();
        foreach (var kind in Enum.GetValues<HostKind>())
        {
            _hosts[kind] = Start(kind);
        }

        await Task.WhenAll(_hosts.Values.Select(h => h.WaitUntilReadyAsync(StartTimeout)));
        await using var mint = HostProcess.StartAssembly(
            "Ingestion.Api dev-token", RepositoryLayout.HostAssembly("Ingestion.Api"), _settings,
            ["dev-token", "--scope", "commands:signup", "--subject", "reliability"]);
        Assert.Equal(0, await mint.WaitForExitAsync(StartTimeout));
        Token = mint.Output.Trim();
    }

    /// <summary>SIGKILL (no shutdown, no flush, no ack), then a new instance on the same queues and database.</summary>
    public async Task KillAndRestartAsync(HostKind kind)
    {
        var killed = _hosts[kind];
        await killed.KillAsync();
        _exitedLogs.Add(killed.Logs);
        await killed.DisposeAsync();
        _hosts[kind] = Start(kind);
        await _hosts[kind].WaitUntilReadyAsync(StartTimeout);
    }

    /// <summary>Whatever a failed scenario left behind comes back: broker app, database, provider, every host.</summary>
    public async Task RestoreAsync()
    {
        await Broker.EnsureRunningAsync();
        await Postgres.EnsureRunningAsync();
        await SetProviderAsync("ok");
        foreach (var (kind, host) in _hosts.ToList())
        {
            if (host.HasExited)
            {
                _exitedLogs.Add(host.Logs);
                await host.DisposeAsync();
                _hosts[kind] = Start(kind);
            }
        }

        await Task.WhenAll(_hosts.Values.Select(h => h.WaitUntilReadyAsync(StartTimeout)));
    }

    public async Task SetProviderAsync(string mode, int delayMs = 0)
    {
        using var response = await Provider.Client.PutAsJsonAsync(new Uri("/behaviour", UriKind.Relative), new { mode, delayMs });
        response.EnsureSuccessStatusCode();
    }

    public HttpClient CreateApiClient()
    {
        var client = new HttpClient { BaseAddress = _hosts[HostKind.Api].BaseAddress, Timeout = TimeSpan.FromSeconds(15) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return client;
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts.Values.Append(Provider))
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }

        foreach (var database in _databases.Values)
        {
            await database.DisposeAsync();
        }

        if (VirtualHost is not null)
        {
            await VirtualHost.DisposeAsync();
        }

        _databaseTurn?.Dispose();
        _brokerTurn?.Dispose();
    }

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
        var broker = Broker.Settings;
        var settings = new Dictionary<string, string>
        {
            ["Backbone:Transport"] = "RabbitMq",
            ["Backbone:RabbitMq:Host"] = broker.RabbitHost,
            ["Backbone:RabbitMq:Port"] = broker.RabbitPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Backbone:RabbitMq:VirtualHost"] = VirtualHost.Name,
            ["Backbone:RabbitMq:Username"] = broker.RabbitUsername,
            ["Backbone:RabbitMq:Password"] = broker.RabbitPassword,
            ["Backbone:RabbitMq:ManagementUrl"] = broker.RabbitManagementUrl.ToString(),
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
        foreach (var (service, database) in _databases)
        {
            // A short connect timeout: while the database is down a request fails fast (503) instead of hanging 15 s.
            settings[$"ConnectionStrings:{service}"] = database.ConnectionString + ";Timeout=3";
        }

        return settings;
    }
}
