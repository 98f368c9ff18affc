using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;
using RabbitMQ.Client;

// Dead letters per second: captured from an error queue into the store, and replayed as a group back to the failed
// endpoint's queue — each against the broker's own rate for the same traffic without the store (baselines measured in
// the same run, same queues, same prefetch and confirm discipline), so the ratio says what the durability costs.
var smoke = args.Contains("--smoke");
var messages = smoke ? 300 : BenchConsole.ReadInt(args, "--messages", 5000);
const string Endpoint = "bench-orders";
var signingKey = TestSigningKey.Generate();
const ushort Prefetch = 32;

var infrastructure = new DeadLettersOnly();
HostProcess? service = null;
try
{
    await infrastructure.InitializeAsync();
    await using var broker = await new ConnectionFactory
    {
        HostName = infrastructure.Settings.RabbitHost,
        Port = infrastructure.Settings.RabbitPort,
        VirtualHost = infrastructure.VirtualHost.Name,
        UserName = infrastructure.Settings.RabbitUsername,
        Password = infrastructure.Settings.RabbitPassword,
    }.CreateConnectionAsync();
    Console.WriteLine($"DeadLetters.Bench {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {(smoke ? "smoke" : "full")} run: {messages} messages; "
        + $"load average at the start: {BenchConsole.LoadAverage()}");

    // Baselines: the broker alone. Drain = consume and ack with the capture's prefetch; confirmed sends = one publish
    // at a time, each awaiting its confirm, as the replayer does.
    var confirmedSendRate = await ConfirmedSendsAsync(broker, "bench-baseline", messages);
    var drainRate = await DrainAsync(broker, "bench-baseline", messages);

    // Capture: the error queue is filled first, then the service started; the clock runs from the first stored record.
    await ConfirmedSendsAsync(broker, $"{Endpoint}_error", messages);
    var settings = new Dictionary<string, string>(infrastructure.HostSettings())
    {
        ["Backbone:RabbitMq:ManagementUrl"] = infrastructure.Settings.RabbitManagementUrl.ToString(),
        ["Backbone:DeadLetters:DiscoveryInterval"] = "00:00:00.200",
        ["Backbone:Auth:SigningKeys:0"] = signingKey,
    };
    service = HostProcess.Start("DeadLetters", settings);
    await service.WaitUntilReadyAsync(HostProcess.StartTimeout);
    var store = infrastructure.Database("DeadLetters");
    // Timed between 10 % and 90 % stored, from the counts actually seen: the first poll may already find most of a
    // small run stored, and timing from it inflated the smoke run's rate several-fold.
    var (startedAt, storedAtStart) = await StoredAsync(store, messages / 10);
    var (endedAt, storedAtEnd) = await StoredAsync(store, messages * 9 / 10);
    await BenchConsole.PollAsync(async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters") == messages, "capture did not finish", TimeSpan.FromMinutes(5));
    var captureRate = (storedAtEnd - storedAtStart) / Stopwatch.GetElapsedTime(startedAt, endedAt).TotalSeconds;

    // Replay: one group job for everything; the job's own clock (created → finished) times it.
    await using (var mint = HostProcess.StartAssembly("dev-token", RepositoryLayout.HostAssembly("DeadLetters"), settings,
        ["dev-token", "--scope", "dead-letters:read dead-letters:replay", "--subject", "dead-letters-bench"]))
    {
        await mint.WaitForExitAsync(TimeSpan.FromSeconds(60));
        service.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", mint.Output.Trim());
    }

    await using (var declare = await broker.CreateChannelAsync())
    {
        await declare.QueueDeclareAsync(Endpoint, durable: true, exclusive: false, autoDelete: false);
    }

    var fingerprint = await store.ScalarAsync<string>("SELECT fingerprint FROM dead_letters LIMIT 1");
    using var accepted = await service.Client.PostAsJsonAsync(new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { fingerprint, reason = "bench" });
    accepted.EnsureSuccessStatusCode();
    JsonElement job = default;
    await BenchConsole.PollAsync(async () =>
    {
        job = await service.Client.GetFromJsonAsync<JsonElement>(accepted.Headers.Location!);
        return job.GetProperty("status").GetString() is "completed" or "failed";
    }, "the replay job did not complete", TimeSpan.FromMinutes(5));
    var replayed = job.GetProperty("replayed").GetInt32();
    var replaySeconds = (job.GetProperty("finishedAt").GetDateTimeOffset() - job.GetProperty("createdAt").GetDateTimeOffset()).TotalSeconds;
    var replayRate = replayed / replaySeconds;
    await using (var count = await broker.CreateChannelAsync())
    {
        var delivered = (await count.QueueDeclarePassiveAsync(Endpoint)).MessageCount;
        if (replayed != messages || delivered != messages)
        {
            throw new InvalidOperationException($"{replayed} replayed and {delivered} on {Endpoint}; expected {messages} each.");
        }
    }

    Console.WriteLine();
    Console.WriteLine("| | messages/s | baseline (broker alone) | ratio |");
    Console.WriteLine("|---|---:|---:|---:|");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| capture (error queue → store, ack after commit) | {captureRate:0} | {drainRate:0} (consume + ack, prefetch {Prefetch}) | {captureRate / drainRate:0.00}× |"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| group replay (store → endpoint queue, confirm, ledger) | {replayRate:0} | {confirmedSendRate:0} (publish + confirm, one at a time) | {replayRate / confirmedSendRate:0.00}× |"));
    Console.WriteLine($"load average at the end: {BenchConsole.LoadAverage()}");
    return 0;
}
catch (InfrastructureUnavailableException unavailable)
{
    await Console.Error.WriteLineAsync(unavailable.Message);
    return 3;
}
catch (Exception failed) when (failed is TimeoutException or InvalidOperationException or HttpRequestException)
{
    // A lost or duplicated message: the figures would hide it.
    await Console.Error.WriteLineAsync($"FAILED: {failed.Message}\n{service?.Logs}");
    return 1;
}
finally
{
    if (service is not null)
    {
        await service.DisposeAsync();
    }

    await infrastructure.DisposeAsync();
}

static async Task<double> ConfirmedSendsAsync(IConnection broker, string queue, int count)
{
    await using var channel = await broker.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
    await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < count; i++)
    {
        await channel.BasicPublishAsync("", queue, mandatory: true, FaultProperties(), FaultBody(), CancellationToken.None);
    }

    return count / clock.Elapsed.TotalSeconds;
}

static async Task<double> DrainAsync(IConnection broker, string queue, int count)
{
    await using var channel = await broker.CreateChannelAsync();
    await channel.BasicQosAsync(0, Prefetch, false);
    var done = new TaskCompletionSource();
    var received = 0;
    var consumer = new RabbitMQ.Client.Events.AsyncEventingBasicConsumer(channel);
    consumer.ReceivedAsync += async (_, delivery) =>
    {
        await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        if (Interlocked.Increment(ref received) == count)
        {
            done.TrySetResult();
        }
    };
    var clock = Stopwatch.StartNew();
    await channel.BasicConsumeAsync(queue, autoAck: false, consumer);
    await done.Task.WaitAsync(TimeSpan.FromMinutes(5));
    return count / clock.Elapsed.TotalSeconds;
}

/// <summary>When (and at what count) at least <paramref name="threshold"/> records were first seen stored, polled every 5 ms.</summary>
static async Task<(long At, long Stored)> StoredAsync(ScratchDatabase store, long threshold)
{
    var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 300);
    while (Stopwatch.GetTimestamp() < deadline)
    {
        if (await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters") is var stored && stored >= Math.Max(1, threshold))
        {
            return (Stopwatch.GetTimestamp(), stored);
        }

        await Task.Delay(5);
    }

    throw new TimeoutException($"fewer than {threshold} dead letters were stored within 300 s");
}

// What MassTransit puts on an error queue: the envelope as the body, the failure in MT-Fault-* headers.
static BasicProperties FaultProperties() => new()
{
    MessageId = Guid.NewGuid().ToString(),
    ContentType = "application/vnd.masstransit+json",
    Persistent = true,
    Headers = new Dictionary<string, object?>
    {
        ["MT-Reason"] = "fault",
        ["MT-Fault-InputAddress"] = $"rabbitmq://localhost/{Endpoint}",
        ["MT-Fault-MessageType"] = "EventBackbone.Bench.OrderPlaced",
        ["MT-Fault-ExceptionType"] = "System.InvalidOperationException",
        ["MT-Fault-Message"] = "Order has no customer",
        ["MT-Fault-StackTrace"] = "   at EventBackbone.Bench.OrderConsumer.Consume(ConsumeContext`1 context) in /src/OrderConsumer.cs:line 12\n   at MassTransit.Pipeline.Something()",
        ["MT-Fault-Timestamp"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        ["MT-Host-MachineName"] = Environment.MachineName,
    },
};

static byte[] FaultBody() => Encoding.UTF8.GetBytes(
    $$"""{"messageId":"{{Guid.NewGuid()}}","messageType":["urn:message:EventBackbone.Bench:OrderPlaced"],"message":{"orderId":"{{Guid.NewGuid()}}","total":12.5} }""");

internal sealed class DeadLettersOnly() : BackboneInfrastructure("DeadLetters");
