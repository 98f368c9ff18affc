using System.Diagnostics;
using System.Net.Http.Headers;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using EventBackbone.Bench.Contenders;
using EventBackbone.Bench.Harness;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Npgsql;
using RabbitMQ.Client;

BenchOptions options;
try
{
    options = BenchOptions.Parse(
        args, [.. ContenderCatalog.All.Select(c => c.Name)], ContenderCatalog.Default, ContenderCatalog.Baseline);
}
catch (ArgumentException invalid)
{
    await Console.Error.WriteLineAsync($"{invalid.Message}\n{BenchOptions.Usage}");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, press) =>
{
    // Let the finally blocks below drop the vhosts and scratch databases instead of leaving them on the servers.
    press.Cancel = true;
    cancel.Cancel();
};

var output = Console.Out;
var contenders = new List<(IContender Contender, ArrivalRouter Router)>();
await using var environment = new BenchEnvironment();
try
{
    await output.WriteLineAsync(await DescribeRunAsync(environment.Settings, options));
    var meter = await ResourceMeter.FindAsync(environment.Settings.RabbitPort, environment.Settings.PostgresAdminConnectionString);
    await output.WriteLineAsync($"resources: {meter.Describe()}");
    var topologies = options.Topologies.Select(name => BenchTopology.Resolve(name, environment.Settings)).ToList();
    // Each topology's contenders are charged the CPU of the servers they run on (every node of the cluster, primary and standby).
    var meters = new Dictionary<IContender, ResourceMeter>();
    foreach (var name in options.Contenders)
    {
        var placements = topologies.Count == 0 ? [null] : topologies.Cast<BenchTopology?>().ToList();
        foreach (var topology in placements)
        {
            var contender = topology is null
                ? ContenderCatalog.All.Single(c => c.Name == name).Create()
                : new EventBackboneDurableContender(publishInOwnTransaction: name == "eventbackbone-durable-efcore", topology);
            if (options.PrefilledRows > 0 && contender is EventBackboneDurableContender { Name: BenchOptions.PrefilledContender } grown)
            {
                grown.TimedInboxCleanupPaused = true;
            }

            if (topology is not null)
            {
                var placed = await ResourceMeter.FindAsync(topology.BrokerAmqpPorts, topology.PostgresServers);
                await output.WriteLineAsync($"{contender.Name}: {topology.Description}; resources: {placed.Describe()}");
                meters[contender] = placed;
            }

            var router = new ArrivalRouter();
            contenders.Add((contender, router));
            await contender.StartAsync(environment, router, cancel.Token);
            if (contender is EventBackboneDurableContender { Placement: { } placement })
            {
                await output.WriteLineAsync($"{contender.Name} queues: {placement}");
            }
        }
    }

    var results = await new BenchRunner(options, contender => meters.GetValueOrDefault(contender, meter), output).RunAsync(contenders, cancel.Token);
    await output.WriteLineAsync();
    await output.WriteLineAsync(ResultTable.Render(results, [.. contenders.Select(c => c.Contender)], options.Baseline, options.LatencyLoads));

    var growth = new InboxGrowthOutcome(0, 0);
    if (options.PrefilledRows > 0)
    {
        var (durable, router) = contenders.Single(c => c.Contender.Name == BenchOptions.PrefilledContender);
        try
        {
            growth = await new InboxGrowthCheck(options, output).RunAsync((EventBackboneDurableContender)durable, router, cancel.Token);
        }
        catch (InvalidOperationException unmeasurable)
        {
            // The check's preconditions (timed cleanup paused, expired backlog intact) failed: no figure to print.
            await Console.Error.WriteLineAsync($"FAILED {BenchOptions.PrefilledContender}: inbox growth check: {unmeasurable.Message}");
            return 1;
        }
    }

    await output.WriteLineAsync($"load average at the end: {LoadAverage()}");

    var broken = contenders
        .Select(c => (c.Contender.Name,
            Lost: results.Where(r => r.Contender == c.Contender.Name).Sum(r => r.Lost)
                + (c.Contender.Name == BenchOptions.PrefilledContender ? growth.Lost : 0),
            Duplicated: results.Where(r => r.Contender == c.Contender.Name).Sum(r => r.Duplicates)
                + (c.Contender.Name == BenchOptions.PrefilledContender ? growth.Duplicates : 0),
            c.Router.Strays))
        .Where(c => c.Lost + c.Duplicated + c.Strays > 0)
        .ToList();
    foreach (var (name, lost, duplicated, strays) in broken)
    {
        await Console.Error.WriteLineAsync(
            $"FAILED {name}: {lost} lost, {duplicated} duplicated, {strays} stray (arrived outside their phase).");
    }

    // Figures from a pipeline that lost or duplicated a message mean nothing, in smoke mode or not.
    return broken.Count == 0 ? 0 : 1;
}
catch (InfrastructureUnavailableException unavailable)
{
    await Console.Error.WriteLineAsync(unavailable.Message);
    return 3;
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("Cancelled.");
    return 130;
}
finally
{
    foreach (var (contender, _) in contenders)
    {
        await contender.DisposeAsync();
    }
}

static async Task<string> DescribeRunAsync(InfrastructureSettings settings, BenchOptions options)
{
    var text = new StringBuilder();
    text.AppendLine($"Backbone.Bench {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {(options.Smoke ? "smoke" : "full")}{(options.HeadToHead ? " head-to-head" : string.Empty)} run: "
        + $"{options.Messages} messages × {options.Rounds} round(s) (+1 warm-up of {options.WarmupMessages}) at each of "
        + $"{string.Join(", ", options.InFlightLevels)} messages in flight, "
        + $"baseline {options.Baseline}"
        + (options.Topologies.Count > 0 ? $", topologies {string.Join(", ", options.Topologies)}" : string.Empty)
        + (options.PrefilledRows > 0 ? $"; then {options.PrefilledRows:N0} inbox rows in the window, {options.ExpiredRows:N0} expired" : string.Empty));
    text.AppendLine($"machine: {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, "
        + $"{RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}, "
        + $"{(GCSettings.IsServerGC ? "server" : "workstation")} GC; load average at the start: {LoadAverage()}");
    text.AppendLine($"versions: RabbitMQ {await RabbitMqVersionAsync(settings)}, PostgreSQL {await PostgresVersionAsync(settings)}, "
        + $"MassTransit {PackageVersion(typeof(IBus))}, RabbitMQ.Client {PackageVersion(typeof(IChannel))}, Npgsql {PackageVersion(typeof(NpgsqlConnection))}, "
        + $"Wolverine {PackageVersion(typeof(Wolverine.IMessageBus))}");
    return text.ToString();
}

// Other sessions share this machine: a table read without the load it was measured under invites false conclusions.
static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static string PackageVersion(Type type) =>
    FileVersionInfo.GetVersionInfo(type.Assembly.Location).ProductVersion?.Split('+')[0] ?? "?";

static async Task<string> RabbitMqVersionAsync(InfrastructureSettings settings)
{
    await InfrastructureProbe.EnsureRabbitMqReachableAsync(settings.RabbitHost, settings.RabbitPort);
    using var management = new HttpClient { BaseAddress = settings.RabbitManagementUrl, Timeout = TimeSpan.FromSeconds(10) };
    management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
        "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{settings.RabbitUsername}:{settings.RabbitPassword}")));
    try
    {
        using var overview = JsonDocument.Parse(await management.GetStringAsync(new Uri("api/overview", UriKind.Relative)));
        return overview.RootElement.GetProperty("rabbitmq_version").GetString() ?? "?";
    }
    catch (HttpRequestException)
    {
        // The version is only printed; RabbitMqVirtualHost fails with the actionable message if the API is down.
        return "?";
    }
}

static async Task<string> PostgresVersionAsync(InfrastructureSettings settings)
{
    await InfrastructureProbe.EnsurePostgresReachableAsync(settings.PostgresAdminConnectionString);
    await using var connection = new NpgsqlConnection(settings.PostgresAdminConnectionString);
    await connection.OpenAsync();
    return connection.PostgreSqlVersion.ToString();
}
