using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// The real Ingestion.Api process, on its own vhost and scratch database, with one webhook source of every signature
/// scheme and a JWT signing key: hostile requests go over a real socket, so Kestrel's own limits are what answers them.
/// Its memory is sampled for the whole class, so a case that makes it buffer without bound shows as a peak.
/// </summary>
public class HostileInputFixture() : BackboneInfrastructure("Ingestion")
{
    public static readonly string SigningKey = TestSigningKey.Generate();
    public const string GitHubSecret = "hostile-github-secret";
    public const string ShopSecret = "hostile-shop-secret";
    public const string StripeSecret = "whsec_hostile-stripe-secret";
    public static readonly string StandardSecret = "whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("hostile-standard-webhooks-secret"));

    /// <summary>The shop source's body limit: small, so oversized bodies are cheap to send.</summary>
    public const int ShopMaxBodyBytes = 16 * 1024;

    /// <summary>
    /// How much the API's resident memory may grow above its warmed-up size during the whole pass. Bodies are read
    /// bounded (at most the 1 MiB default source limit, 64 KiB for commands); a server that buffered a hostile 64 MiB
    /// body, or kept trickling connections' buffers, would overshoot this.
    /// </summary>
    public const long RssGrowthBoundBytes = 256L * 1024 * 1024;


    private readonly CancellationTokenSource _stopSampling = new();
    private Task _sampling = Task.CompletedTask;
    private long _peakRss;

    /// <summary>Fixed so a failure can be replayed; <c>HOSTILE_INPUT_SEED</c> picks another.</summary>
    public int Seed { get; } = int.TryParse(Environment.GetEnvironmentVariable("HOSTILE_INPUT_SEED"), out var seed) ? seed : 20_261_204;

    /// <summary>Random cases per fuzz test; <c>HOSTILE_INPUT_ITERATIONS</c> raises it for a long local run.</summary>
    public int Iterations { get; } = int.TryParse(Environment.GetEnvironmentVariable("HOSTILE_INPUT_ITERATIONS"), out var count) && count > 0 ? count : 150;

    public HostProcess Api { get; private set; } = null!;

    public ScratchDatabase Ingestion => Database("Ingestion");

    public long BaselineRss { get; private set; }

    public long PeakRss => Interlocked.Read(ref _peakRss);

    /// <summary>A token the API accepts for every command.</summary>
    public string Token { get; } = HostileTokens.Hs256(SigningKey, HostileTokens.Claims("hostile-control", "commands:signup commands:verify-email commands:publish"));

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var settings = new Dictionary<string, string>(HostSettings())
        {
            ["Backbone:Auth:SigningKeys:0"] = SigningKey,
            ["Backbone:Ingestion:Sources:github:Scheme"] = "GitHub",
            ["Backbone:Ingestion:Sources:github:Secrets:0"] = GitHubSecret,
            ["Backbone:Ingestion:Sources:shop:Scheme"] = "Hmac",
            ["Backbone:Ingestion:Sources:shop:Header"] = "X-Shop-Signature",
            ["Backbone:Ingestion:Sources:shop:Encoding"] = "Hex",
            ["Backbone:Ingestion:Sources:shop:Prefix"] = "sha256=",
            ["Backbone:Ingestion:Sources:shop:DedupeHeader"] = "X-Shop-Delivery",
            ["Backbone:Ingestion:Sources:shop:MaxBodyBytes"] = ShopMaxBodyBytes.ToString(CultureInfo.InvariantCulture),
            ["Backbone:Ingestion:Sources:shop:Secrets:0"] = ShopSecret,
            ["Backbone:Ingestion:Sources:stripe:Scheme"] = "Stripe",
            ["Backbone:Ingestion:Sources:stripe:Secrets:0"] = StripeSecret,
            ["Backbone:Ingestion:Sources:standard:Scheme"] = "StandardWebhooks",
            ["Backbone:Ingestion:Sources:standard:Secrets:0"] = StandardSecret,
            // The fuzz passes send their controls from the address their garbage comes from, and expect each hostile
            // case's own answer (413, 400…), not the 429 that an address sending nothing but junk earns by default:
            // the per-address budgets are EdgeLoadSpecs' subject, with their defaults.
            ["Backbone:Ingestion:UnverifiedPerAddressPerSecond"] = "1000000",
            ["Backbone:Ingestion:UnverifiedPerSecond"] = "1000000",
        };
        Configure(settings);
        Api = HostProcess.Start("Ingestion.Api", settings);
        await Api.WaitUntilReadyAsync(HostProcess.StartTimeout);

        // Warm up (JIT, connection pools, the first commit) before taking the baseline the growth is measured from.
        for (var i = 0; i < 5; i++)
        {
            var warmUp = await SendSignedAsync("github", Encoding.UTF8.GetBytes($$"""{"warm":{{i}}}"""));
            Assert.True(warmUp.Status == 202, $"The warm-up webhook was answered {warmUp}.\n{Api.Logs}");
        }

        BaselineRss = ResidentBytes();
        _peakRss = BaselineRss;
        _sampling = SampleAsync(_stopSampling.Token);
    }

    /// <summary>A derived fixture's changes to the API's settings (and environment) before it starts.</summary>
    protected virtual void Configure(Dictionary<string, string> settings)
    {
    }

    public override async Task DisposeAsync()
    {
        await _stopSampling.CancelAsync();
        await _sampling;
        _stopSampling.Dispose();
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    /// <summary>VmRSS of the API process, in bytes.</summary>
    public long ResidentBytes() =>
        Api.ResidentBytes() ?? throw new InvalidOperationException($"The API process (pid {Api.Pid}) has no memory figure: it is gone.\n{Api.Logs}");

    /// <summary>Counts of accepted webhooks and commands: a hostile request must never add to either.</summary>
    public async Task<(long Webhooks, long Commands)> AcceptedRowsAsync() =>
        (await Ingestion.ScalarAsync<long>("SELECT count(*) FROM webhook_receipts"),
         await Ingestion.ScalarAsync<long>("SELECT count(*) FROM command_receipts"));

    /// <summary>
    /// After a pass: the process is alive and ready, its memory stayed within the bound, and the only rows added are
    /// the control requests' — by id, so one hostile acceptance cannot hide behind one rejected control.
    /// </summary>
    public async Task AssertSurvivedAsync((long Webhooks, long Commands) before, IReadOnlyCollection<Guid> controlEvents, IReadOnlyCollection<Guid> controlCommands, string context)
    {
        Assert.False(Api.HasExited, $"The API process exited ({context}).\n{Api.Logs}");
        using var ready = await Api.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.True(ready.StatusCode == HttpStatusCode.OK, $"/health/ready answered {(int)ready.StatusCode} after the pass ({context}).\n{Api.Logs}");
        var (webhooks, commands) = await AcceptedRowsAsync();
        Assert.True(webhooks - before.Webhooks == controlEvents.Count,
            $"{webhooks - before.Webhooks} webhooks were accepted, but only the {controlEvents.Count} control requests should have been ({context}).");
        Assert.True(commands - before.Commands == controlCommands.Count,
            $"{commands - before.Commands} commands were accepted, but only the {controlCommands.Count} control requests should have been ({context}).");
        Assert.Equal(controlEvents.Count, await Ingestion.ScalarAsync<long>(
            "SELECT count(*) FROM webhook_receipts WHERE event_id = ANY(@ids)", ("ids", controlEvents.ToArray())));
        Assert.Equal(controlCommands.Count, await Ingestion.ScalarAsync<long>(
            "SELECT count(*) FROM command_receipts WHERE command_id = ANY(@ids)", ("ids", controlCommands.ToArray())));
        var growth = PeakRss - BaselineRss;
        Assert.True(growth <= RssGrowthBoundBytes,
            $"The API's resident memory grew by {growth / (1024 * 1024)} MiB (baseline {BaselineRss / (1024 * 1024)} MiB, peak {PeakRss / (1024 * 1024)} MiB), over the bound of {RssGrowthBoundBytes / (1024 * 1024)} MiB ({context}).");
    }

    /// <summary>A correctly signed webhook for any configured source, plus <paramref name="extraHeaders"/>.</summary>
    public Task<HostileResponse> SendSignedAsync(
        string source, byte[] body, string contentType = "application/json", IEnumerable<(string Name, string Value)>? extraHeaders = null,
        IPAddress? from = null, TimeSpan? bound = null) =>
        HostileHttp.SendAsync(
            Api.BaseAddress,
            HostileHttp.Head("POST", $"/api/v1/webhooks/{source}", Api.BaseAddress,
                [("Content-Type", contentType), ("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)),
                 .. SignatureHeaders(source, body), .. extraHeaders ?? []]),
            body,
            bound,
            from);

    /// <summary>The headers that make <paramref name="body"/> verify for <paramref name="source"/>.</summary>
    public static IEnumerable<(string Name, string Value)> SignatureHeaders(string source, byte[] body, string? deliveryId = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var id = deliveryId ?? $"msg_{Guid.NewGuid():N}";
        switch (source)
        {
            case "github":
                return [("X-Hub-Signature-256", "sha256=" + Hex(GitHubSecret, body)), ("X-GitHub-Event", "push"), ("X-GitHub-Delivery", id)];
            case "shop":
                return [("X-Shop-Signature", "sha256=" + Hex(ShopSecret, body)), ("X-Shop-Delivery", id)];
            case "stripe":
                byte[] stripeSigned = [.. Encoding.UTF8.GetBytes(now + "."), .. body];
                return [("Stripe-Signature", $"t={now},v1={Hex(StripeSecret, stripeSigned)}")];
            case "standard":
                var key = Convert.FromBase64String(StandardSecret["whsec_".Length..]);
                byte[] signed = [.. Encoding.UTF8.GetBytes($"{id}.{now}."), .. body];
                var signature = HMACSHA256.HashData(key, signed);
                return [("webhook-id", id), ("webhook-timestamp", now), ("webhook-signature", "v1," + Convert.ToBase64String(signature))];
            default:
                throw new ArgumentOutOfRangeException(nameof(source), source, "not a configured source");
        }
    }

    public static string Hex(string secret, byte[] content) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), content));

    /// <summary>The event id of a 202, for the control-request bookkeeping.</summary>
    public static Guid EventId(HostileResponse response) =>
        JsonDocument.Parse(Dechunk(response.Body)).RootElement.GetProperty("eventId").GetGuid();

    public static Guid CommandId(HostileResponse response) =>
        JsonDocument.Parse(Dechunk(response.Body)).RootElement.GetProperty("commandId").GetGuid();

    /// <summary>The body without chunk framing (the raw client does not undo it).</summary>
    public static string Dechunk(string body)
    {
        if (body.StartsWith('{'))
        {
            return body;
        }

        var text = new StringBuilder();
        var rest = body.AsSpan();
        while (rest.IndexOf("\r\n") is var end and > 0
            && int.TryParse(rest[..end], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var size) && size > 0)
        {
            text.Append(rest.Slice(end + 2, size));
            rest = rest[(end + 2 + size + 2)..];
        }

        return text.ToString();
    }

    private async Task SampleAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var rss = ResidentBytes();
                if (rss > Interlocked.Read(ref _peakRss))
                {
                    Interlocked.Exchange(ref _peakRss, rss);
                }

                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (IOException)
            {
                // The process is gone: AssertSurvivedAsync reports that, with its logs.
                return;
            }
        }
    }
}
