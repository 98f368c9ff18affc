using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// The hostile-input API as a 512 MiB pod runs it: the runtime then limits its GC heap to 75 % of the container
/// (<c>DOTNET_GCHeapHardLimit=0x18000000</c>, 384 MiB), and the edge's per-address and instance-wide budgets keep their
/// defaults. Its Stripe source is limited as an operator would limit a real Stripe account's deliveries.
/// </summary>
public sealed class EdgeLoadFixture : HostileInputFixture
{
    public const int StripeRatePerSecond = 100;

    protected override void Configure(Dictionary<string, string> settings)
    {
        settings["DOTNET_GCHeapHardLimit"] = "0x18000000";
        settings.Remove("Backbone:Ingestion:UnverifiedPerAddressPerSecond");
        settings.Remove("Backbone:Ingestion:UnverifiedPerSecond");
        settings["Backbone:Ingestion:Sources:stripe:RatePerSecond"] = StripeRatePerSecond.ToString(CultureInfo.InvariantCulture);
        settings["Backbone:Ingestion:Sources:stripe:Burst"] = (2 * StripeRatePerSecond).ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>Load tests run alone: on two cores, another class's hosts would decide how much load they can make.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EdgeLoadCollection
{
    public const string Name = "edge load";
}

/// <summary>
/// Attacks on the webhook edge by clients that hold no secret: many connections trickling the largest body a source
/// allows, and junk sent as fast as one machine can. The attacker sends from 127.0.0.1, the legitimate sender from
/// 127.0.0.2; the sender's correctly signed webhooks must be accepted throughout, and the API must survive in little
/// memory.
/// </summary>
[Collection(EdgeLoadCollection.Name)]
public sealed class EdgeLoadSpecs(EdgeLoadFixture fixture, ITestOutputHelper output) : IClassFixture<EdgeLoadFixture>
{
    private const int Attackers = 1000;
    private const int DefaultMaxBodyBytes = 1024 * 1024;
    private const long MemoryGrowthBoundBytes = 100L * 1024 * 1024;

    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Sender = IPAddress.Parse("127.0.0.2");

    private Uri Server => fixture.Api.BaseAddress;

    [Fact]
    public async Task A_thousand_connections_trickling_the_largest_body_cost_little_memory_and_a_signed_webhook_is_still_accepted()
    {
        // Each attacker connection is a socket here and one in the API (a child of this process, same limit).
        var openFiles = OpenFileLimit();
        Assert.True(openFiles >= 4 * Attackers, $"The open-file limit is {openFiles}; this test needs {4 * Attackers} (ulimit -n).");
        var baseline = fixture.ResidentBytes();
        var peak = baseline;
        using var stop = new CancellationTokenSource();
        var sampling = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, fixture.Api.ResidentBytes() ?? 0);
                await Task.Delay(50, CancellationToken.None);
            }
        });

        // Unsigned, declaring the github source's largest body, then trickling spaces (valid JSON padding) at 512 B/s,
        // above Kestrel's minimum data rate: the API keeps each connection it reads until the body read deadline (10 s,
        // then 408), and must not pay 1 MiB for it. The attacker sends from the address the fixture's warm-up webhooks
        // verified from: the worst case, an attacker behind a real sender's egress, which may use the reserved slots.
        var head = HostileHttp.Head("POST", "/api/v1/webhooks/github", Server,
        [
            ("Content-Type", "application/json"), ("Content-Length", DefaultMaxBodyBytes.ToString(CultureInfo.InvariantCulture)),
            ("X-Hub-Signature-256", "sha256=" + new string('0', 64)), ("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "attacker"),
        ]);
        var trickle = Encoding.ASCII.GetBytes(new string(' ', 128));
        var started = 0;
        var settled = 0;
        using var connecting = new SemaphoreSlim(64);
        async Task<HostileResponse?> AttackAsync()
        {
            await connecting.WaitAsync();
            var released = 0;
            void Release()
            {
                if (Interlocked.Exchange(ref released, 1) == 0)
                {
                    Interlocked.Increment(ref settled);
                    connecting.Release();
                }
            }

            try
            {
                return await HostileHttp.SendAsync(Server, head, async (stream, token) =>
                {
                    await stream.WriteAsync("{"u8.ToArray(), token);
                    await stream.FlushAsync(token);
                    Interlocked.Increment(ref started);
                    Release();
                    while (true)
                    {
                        await Task.Delay(250, token);
                        await stream.WriteAsync(trickle, token);
                    }
                }, TimeSpan.FromMinutes(3), Attacker, stop.Token);
            }
            catch (SocketException)
            {
                // Refused: the API is gone, which the assertions below report with its logs.
                return null;
            }
            finally
            {
                Release();
            }
        }

        var attacks = Enumerable.Range(0, Attackers).Select(_ => Task.Run(AttackAsync)).ToList();
        // Precondition: every attacker has sent its head and first byte (or failed to), within a generous bound.
        var opening = Stopwatch.StartNew();
        while (Volatile.Read(ref settled) < Attackers && opening.Elapsed < TimeSpan.FromMinutes(2))
        {
            await Task.Delay(100);
        }

        // The API reads what arrived (and, unfixed, allocates for it) asynchronously: let it catch up under load.
        await Task.Delay(TimeSpan.FromSeconds(3));
        string control;
        try
        {
            var response = await fixture.SendSignedAsync("github", Encoding.UTF8.GetBytes("""{"during":"a thousand trickling bodies"}"""),
                from: Sender, bound: TimeSpan.FromSeconds(60));
            control = response.Status == 202 ? "202" : response.ToString();
        }
        catch (SocketException refused)
        {
            control = $"connection refused ({refused.SocketErrorCode})";
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        var answers = await Task.WhenAll(attacks);
        await sampling;

        var outcomes = answers
            .GroupBy(x => x switch { null => "refused connection", { Status: { } status } => status.ToString(CultureInfo.InvariantCulture), { TimedOut: true } => "held until the end", _ => "closed" })
            .ToDictionary(x => x.Key, x => x.Count());
        var summary = $"{started} of {Attackers} attackers sent their first byte in {opening.Elapsed.TotalSeconds:F1} s; answers: "
            + string.Join(", ", outcomes.Select(x => $"{x.Key} × {x.Value}"))
            + $"; resident memory {baseline / (1024 * 1024)} MiB → peak {peak / (1024 * 1024)} MiB";
        output.WriteLine(summary);
        Assert.False(fixture.Api.HasExited, $"The API process exited ({summary}).\n{fixture.Api.Logs}");
        Assert.True(control == "202", $"The signed webhook sent meanwhile from {Sender} was answered {control} ({summary}).\n{Tail(fixture.Api.Logs)}");
        var serverErrors = answers.Count(x => x is { IsServerError: true, Status: not 503 });
        Assert.True(serverErrors == 0, $"{serverErrors} attackers were answered with a server error ({summary}).\n{Tail(fixture.Api.Logs)}");
        // 503 when no slot was free, 408 when the body read deadline cut a trickle off; nothing else.
        Assert.True(answers.All(x => x is null or { Status: null or 503 or 408 }), $"An attacker was answered otherwise than 503 or 408 ({summary}).");
        Assert.True(peak - baseline < MemoryGrowthBoundBytes, $"The API's resident memory grew by more than {MemoryGrowthBoundBytes / (1024 * 1024)} MiB ({summary}).");
        Assert.True(started >= Attackers * 9 / 10, $"Too few attackers got going to test anything ({summary}).");
    }

    [Fact]
    public async Task Junk_at_thousands_per_second_from_one_address_never_starves_a_source_whose_signed_webhooks_keep_coming()
    {
        const int JunkPerSecond = 5000;
        const int SignedPerSecond = 20;
        var window = TimeSpan.FromSeconds(10);
        using var junkClient = ClientFrom(Attacker, connections: 64);
        using var senderClient = ClientFrom(Sender, connections: 16);
        var junkAnswers = new ConcurrentDictionary<string, int>();
        var tickets = 0L;
        var clock = Stopwatch.StartNew();

        // Paced by tickets (ticket n is due at n / rate s) and cut off at the end of the window: a slow machine sends
        // fewer, never a late burst, and the test's length is bounded either way.
        var junk = Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var due = TimeSpan.FromSeconds((double)(Interlocked.Increment(ref tickets) - 1) / JunkPerSecond);
                if (due >= window)
                {
                    return;
                }

                // The clock read once: read twice, it moved on between the check and the wait, and a negative
                // wait threw (CI at load 30: "The value needs to translate in milliseconds to -1 …").
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }
                else if (clock.Elapsed >= window)
                {
                    return;
                }

                var answer = await PostJunkAsync(junkClient);
                junkAnswers.AddOrUpdate(answer, 1, (_, count) => count + 1);
            }
        })).ToList();
        var signed = Enumerable.Range(0, (int)(window.TotalSeconds * SignedPerSecond)).Select(i => Task.Run(async () =>
        {
            var wait = TimeSpan.FromSeconds((double)i / SignedPerSecond) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            return (i, await PostSignedAsync(senderClient, i));
        })).ToList();
        await Task.WhenAll(junk);
        var junkElapsed = clock.Elapsed;
        var results = await Task.WhenAll(signed);

        var junkCount = junkAnswers.Values.Sum();
        var junkRate = junkCount / junkElapsed.TotalSeconds;
        var summary = $"{junkCount} junk requests in {junkElapsed.TotalSeconds:F1} s = {junkRate:F0}/s (target {JunkPerSecond}/s), answered "
            + string.Join(", ", junkAnswers.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => $"{x.Key} × {x.Value}"));
        output.WriteLine(summary);
        var refused = results.Where(x => x.Item2.Status != 202).Select(x => $"#{x.i}: {x.Item2.Status} {x.Item2.Body}").ToList();
        Assert.False(fixture.Api.HasExited, $"The API process exited ({summary}).\n{fixture.Api.Logs}");
        Assert.True(refused.Count == 0,
            $"{refused.Count} of {results.Length} signed Stripe webhooks sent from {Sender} were not accepted ({summary}):\n{string.Join('\n', refused.Take(20))}");
        Assert.True(junkAnswers.Keys.All(x => x is "401" or "429"), $"Junk must only ever be refused with 401 or 429 ({summary}).");
        // Precondition: the junk came faster than the source's own rate, or there was nothing to starve it with.
        Assert.True(junkRate >= 2 * EdgeLoadFixture.StripeRatePerSecond, $"The junk came too slowly to test anything ({summary}).");
    }

    private static async Task<string> PostJunkAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/stripe", UriKind.Relative))
        {
            Content = new ByteArrayContent("""{"id":"evt_junk","type":"charge.succeeded"}"""u8.ToArray()),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("Stripe-Signature", $"t={DateTimeOffset.UtcNow.ToUnixTimeSeconds()},v1={new string('0', 64)}");
        try
        {
            using var response = await client.SendAsync(request);
            return ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException failed)
        {
            return failed.GetType().Name;
        }
    }

    private static async Task<(int? Status, string Body)> PostSignedAsync(HttpClient client, int n)
    {
        var body = Encoding.UTF8.GetBytes($$"""{"id":"evt_{{Guid.NewGuid():N}}","type":"charge.succeeded","n":{{n}}}""");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/stripe", UriKind.Relative)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in HostileInputFixture.SignatureHeaders("stripe", body))
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            using var response = await client.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (Exception failed) when (failed is HttpRequestException or TaskCanceledException)
        {
            return (null, failed.Message);
        }
    }

    /// <summary>An HttpClient whose connections come from <paramref name="from"/>: the API tells clients apart by address.</summary>
    private HttpClient ClientFrom(IPAddress from, int connections) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(from, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        {
            BaseAddress = Server,
            Timeout = TimeSpan.FromSeconds(60),
        };

    private static int OpenFileLimit()
    {
        // "Max open files            20000                20000                files"
        var line = File.ReadLines("/proc/self/limits").First(x => x.StartsWith("Max open files", StringComparison.Ordinal));
        var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return soft == "unlimited" ? int.MaxValue : int.Parse(soft, CultureInfo.InvariantCulture);
    }

    private static string Tail(string logs) => logs[^Math.Min(logs.Length, 20_000)..];
}
