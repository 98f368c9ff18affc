using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;
using EventBackbone.Webhooks.Bench;

if (args.Contains(BareInsertServer.Command))
{
    return await BareInsertServer.RunAsync([.. args.Where(a => a != BareInsertServer.Command)]);
}

var smoke = args.Contains("--smoke");
var duration = TimeSpan.FromSeconds(smoke ? 3 : BenchConsole.ReadInt(args, "--seconds", 15));
var rounds = smoke ? 1 : BenchConsole.ReadInt(args, "--rounds", 3);
var connections = BenchConsole.ReadInt(args, "--connections", 32);
// Long enough for tiered compilation to finish under load: the API host measured 1 224 µs of CPU per webhook in its
// first 10 s after a 3 s warm-up and 260–320 µs from then on, so a 3 s warm-up charged JIT time to round 1 of the
// contender with the most code to compile (ours; the bare endpoint is nearly all framework code, warm after 3 s).
// A durable queue bound to the contract's exchange, as the Workers' webhook-received queue is (nobody consumes it): the
// broker then stores every published webhook, on the same two cores. Without it the exchange routes to nowhere.
var boundQueue = args.Contains("--queue");
const string QueueName = "webhook-received";
var warmUp = TimeSpan.FromSeconds(smoke ? 3 : BenchConsole.ReadInt(args, "--warm-up", 20));
if (!Wrk.IsInstalled())
{
    await Console.Error.WriteLineAsync("wrk is not installed: apt-get install wrk (Debian package 'wrk').");
    return 3;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, press) =>
{
    press.Cancel = true;
    cancel.Cancel();
};

const string Secret = "bench-webhook-secret";
var settings = InfrastructureSettings.FromEnvironment();
var workDirectory = Directory.CreateTempSubdirectory("webhooks-bench");
RabbitMqVirtualHost? vhost = null;
ScratchDatabase? apiDatabase = null;
ScratchDatabase? baselineDatabase = null;
HostProcess? api = null;
HostProcess? baseline = null;
try
{
    vhost = await RabbitMqVirtualHost.CreateAsync(settings);
    apiDatabase = await ScratchDatabase.CreateAsync(settings, "bench_ingestion");
    baselineDatabase = await ScratchDatabase.CreateAsync(settings, "bench_baseline");
    api = HostProcess.Start("Ingestion.Api", new Dictionary<string, string>
    {
        ["Backbone:Transport"] = "RabbitMq",
        ["Backbone:RabbitMq:Host"] = settings.RabbitHost,
        ["Backbone:RabbitMq:Port"] = settings.RabbitPort.ToString(CultureInfo.InvariantCulture),
        ["Backbone:RabbitMq:VirtualHost"] = vhost.Name,
        ["Backbone:RabbitMq:Username"] = settings.RabbitUsername,
        ["Backbone:RabbitMq:Password"] = settings.RabbitPassword,
        // Both servers get the same pool bound, well under PostgreSQL's 100 connections (shared with the harness).
        ["ConnectionStrings:Ingestion"] = apiDatabase.ConnectionString + $";Maximum Pool Size={connections}",
        ["Backbone:Ingestion:Sources:bench:Scheme"] = "Hmac",
        ["Backbone:Ingestion:Sources:bench:Header"] = "X-Signature",
        ["Backbone:Ingestion:Sources:bench:Prefix"] = "sha256=",
        ["Backbone:Ingestion:Sources:bench:Secrets:0"] = Secret,
        // The limit under test is the pipeline's, not the per-source rate limit.
        ["Backbone:Ingestion:Sources:bench:RatePerSecond"] = "1000000",
        ["Backbone:Ingestion:Sources:bench:Burst"] = "1000000",
        // wrk cycles 1,000 pre-signed bodies (its Lua has no HMAC): with the body guard on, every pass after the first
        // would be answered as repeats and measure a lookup, not an acceptance.
        ["Backbone:Ingestion:Sources:bench:DeduplicateBodies"] = "false",
        // wrk is one loopback address standing for many senders: the per-address read cap would throttle it alone.
        ["Backbone:Ingestion:MaxConcurrentBodyReadsPerAddress"] = "64",
    }, outputFile: Path.Combine(workDirectory.FullName, "ingestion-api.log"));
    baseline = HostProcess.StartAssembly(
        "Webhooks.Bench baseline",
        typeof(BareInsertServer).Assembly.Location,
        new Dictionary<string, string> { ["ConnectionStrings:Baseline"] = baselineDatabase.ConnectionString + $";Maximum Pool Size={connections}" },
        [BareInsertServer.Command]);
    await api.WaitUntilReadyAsync(HostProcess.StartTimeout);
    if (boundQueue)
    {
        await BindQueueAsync(settings, vhost.Name);
    }

    await baseline.WaitUntilReadyAsync(HostProcess.StartTimeout);

    // Distinct bodies of a realistic size (~600 B), each signed as its sender would; no dedupe header, so every
    // request is a new webhook for both contenders.
    var requests = Enumerable.Range(0, 1000).Select(k =>
    {
        var body = JsonSerializer.Serialize(new
        {
            id = $"evt_{k:D6}",
            type = "order.created",
            created = 1_764_000_000 + k,
            data = new
            {
                order = new
                {
                    id = k,
                    currency = "eur",
                    total = 1000 + k,
                    items = new[] { new { sku = $"SKU-{k % 97}", quantity = 1 + (k % 5), price = 250 + (k % 300) }, new { sku = $"SKU-{k % 89}", quantity = 1, price = 999 } },
                    customer = new { id = $"cus_{k * 7919 % 100000:D5}", email = $"customer{k}@example.com", name = $"Customer {k}" },
                    shipping = new { city = "Berlin", country = "DE", postal_code = "10115" },
                },
            },
        });
        var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(body)));
        return (body, signature);
    }).ToList();
    var contenders = new (string Name, Uri Url, ScratchDatabase Database, string CountSql, int Pid)[]
    {
        ("bare-insert", new Uri(baseline.BaseAddress, "/ingest"), baselineDatabase, $"SELECT count(*) FROM {BareInsertServer.Table}", baseline.Pid),
        ("eventbackbone-webhooks", new Uri(api.BaseAddress, "/api/v1/webhooks/bench"), apiDatabase, "SELECT count(*) FROM webhook_receipts", api.Pid),
    };
    var closedLoop = Wrk.WriteScript(Path.Combine(workDirectory.FullName, "closed.lua"), requests, delayMs: null);

    Console.WriteLine($"Webhooks.Bench {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {(smoke ? "smoke" : "full")} run: {rounds} round(s) × "
        + $"{duration.TotalSeconds:0} s per phase after a {warmUp.TotalSeconds:0} s warm-up, {connections} connections, "
        + $"{(boundQueue ? $"durable queue {QueueName} bound" : "no queue bound")}, wrk -t2; load average at the start: {BenchConsole.LoadAverage()}");
    var results = new List<Measured>();
    var succeeded = contenders.ToDictionary(c => c.Name, _ => 0L);
    // Round 0 is a discarded warm-up (peak load for --warm-up seconds, then a short paced phase): JIT, connection pools
    // and table growth are charged to nobody.
    for (var round = 0; round <= rounds; round++)
    {
        foreach (var contender in contenders)
        {
            var phase = round == 0 ? TimeSpan.FromSeconds(Math.Min(3, duration.TotalSeconds)) : duration;
            var cpuBefore = ProcessCpu.Milliseconds(contender.Pid);
            var peak = await Wrk.RunAsync(contender.Url, closedLoop, connections, round == 0 ? warmUp : phase, cancel.Token);
            // The server process's own CPU per answered request in the peak phase (PostgreSQL, RabbitMQ and wrk excluded).
            var cpuUsPerRequest = (ProcessCpu.Milliseconds(contender.Pid) - cpuBefore) * 1000 / Math.Max(1, peak.Requests - peak.Failed);
            // Half of this round's peak, spread over the connections: each connection waits before every request, so
            // its period is delay + response time; the response time at half load is estimated as half the peak's p50.
            var pacedRate = peak.SucceededPerSecond / 2;
            var delayMs = (int)Math.Max(1, Math.Round((connections * 1000 / pacedRate) - (peak.P50Ms / 2)));
            var pacedScript = Wrk.WriteScript(Path.Combine(workDirectory.FullName, $"paced-{contender.Name}-{round}.lua"), requests, delayMs);
            var paced = await Wrk.RunAsync(contender.Url, pacedScript, connections, phase, cancel.Token);
            succeeded[contender.Name] += peak.Requests - peak.Failed + paced.Requests - paced.Failed;
            var label = round == 0 ? "warm-up" : $"round {round}";
            Console.WriteLine($"{label,-8} {contender.Name,-24} {peak.SucceededPerSecond,8:0} req/s (p50 {peak.P50Ms:0.00} ms, p99 {peak.P99Ms:0.00} ms, {peak.Failed} failed, server {cpuUsPerRequest:0} µs CPU/req)"
                + $" | paced at {paced.SucceededPerSecond,6:0} req/s: p50 {paced.P50Ms,6:0.00} ms  p99 {paced.P99Ms,6:0.00} ms ({paced.Failed} failed)");
            if (round > 0)
            {
                results.Add(new Measured(contender.Name, peak, paced, cpuUsPerRequest));
            }
        }
    }

    // Integrity: every 2xx wrk counted is a stored row (a few more rows are requests wrk cut off in flight), and every
    // accepted webhook left the outbox for RabbitMQ.
    var broken = false;
    foreach (var contender in contenders)
    {
        var rows = await contender.Database.ScalarAsync<long>(contender.CountSql);
        var inFlightAllowance = (long)connections * 2 * (rounds + 1);
        var ok = rows >= succeeded[contender.Name] && rows - succeeded[contender.Name] <= inFlightAllowance;
        broken |= !ok;
        Console.WriteLine($"{contender.Name}: {succeeded[contender.Name]} answered 2xx, {rows} rows stored {(ok ? "(consistent)" : "INCONSISTENT")}");
    }

    var drainStarted = DateTime.UtcNow;
    while (await apiDatabase.ScalarAsync<long>("SELECT count(*) FROM outbox_messages") > 0 && DateTime.UtcNow - drainStarted < TimeSpan.FromSeconds(120))
    {
        await Task.Delay(200, cancel.Token);
    }

    var pending = await apiDatabase.ScalarAsync<long>("SELECT count(*) FROM outbox_messages");
    broken |= pending > 0;
    Console.WriteLine(pending == 0
        ? $"outbox drained {(DateTime.UtcNow - drainStarted).TotalSeconds:0.0} s after the last request: every accepted webhook was published"
        : $"OUTBOX NOT DRAINED: {pending} accepted webhooks still unpublished after 120 s");

    if (boundQueue)
    {
        // Every accepted webhook reached the broker and was stored once (a few more: wrk's cut-off in-flight requests).
        var accepted = succeeded["eventbackbone-webhooks"];
        var stored = await apiDatabase.ScalarAsync<long>("SELECT count(*) FROM webhook_receipts");
        long queued = -1;
        var countStarted = DateTime.UtcNow;
        // The management API's figures lag by up to 5 s.
        while (queued != stored && DateTime.UtcNow - countStarted < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(1000, cancel.Token);
            queued = System.Text.Json.JsonDocument.Parse(await vhost.GetQueueJsonAsync(QueueName)).RootElement.GetProperty("messages").GetInt64();
        }

        broken |= queued != stored;
        Console.WriteLine($"{QueueName}: {queued} messages queued for {stored} stored webhooks ({accepted} answered 2xx) {(queued == stored ? "(consistent)" : "INCONSISTENT")}");
    }

    Console.WriteLine();
    Console.WriteLine(Table(results, contenders[0].Name));
    Console.WriteLine($"load average at the end: {BenchConsole.LoadAverage()}");
    return broken ? 1 : 0;
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
    foreach (var host in new[] { api, baseline })
    {
        if (host is not null)
        {
            await host.DisposeAsync();
        }
    }

    foreach (var database in new[] { apiDatabase, baselineDatabase })
    {
        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    if (vhost is not null)
    {
        await vhost.DisposeAsync();
    }

    workDirectory.Delete(recursive: true);
}

static async Task BindQueueAsync(InfrastructureSettings settings, string vhost)
{
    using var management = RabbitMqVirtualHost.ManagementClient(settings);
    var exchange = Uri.EscapeDataString("EventBackbone.Contracts.Webhooks:WebhookReceived");
    foreach (var (path, body, method) in new[]
    {
        // Declared as MassTransit declares a message type's exchange, so its own declaration later agrees.
        ($"api/exchanges/{vhost}/{exchange}", """{"type":"fanout","durable":true}""", HttpMethod.Put),
        ($"api/queues/{vhost}/{QueueName}", """{"durable":true}""", HttpMethod.Put),
        ($"api/bindings/{vhost}/e/{exchange}/q/{QueueName}", "{}", HttpMethod.Post),
    })
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        using var response = await management.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }
}

static string Table(List<Measured> results, string baseline)
{
    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    var figures = new (string Name, Func<Measured, double> Value)[]
    {
        ("accepted req/s (peak)", r => r.Peak.SucceededPerSecond),
        ("server process CPU µs/request (peak)", r => r.ServerCpuUsPerRequest),
        ("p50 ms at half of peak", r => r.Paced.P50Ms),
        ("p99 ms at half of peak", r => r.Paced.P99Ms),
    };
    var text = new StringBuilder();
    text.AppendLine($"| contender | figure | min | median | max | median ÷ {baseline} |");
    text.AppendLine("|---|---|---:|---:|---:|---:|");
    foreach (var contender in results.Select(r => r.Contender).Distinct())
    {
        foreach (var (name, value) in figures)
        {
            var mine = results.Where(r => r.Contender == contender).Select(value).ToList();
            var theirs = Median(results.Where(r => r.Contender == baseline).Select(value));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {contender} | {name} | {mine.Min():0.##} | {Median(mine):0.##} | {mine.Max():0.##} | {Median(mine) / theirs:0.00}× |");
        }
    }

    return text.ToString();
}

/// <summary>One round of one contender: its peak and paced phases.</summary>
internal sealed record Measured(string Contender, WrkResult Peak, WrkResult Paced, double ServerCpuUsPerRequest);
