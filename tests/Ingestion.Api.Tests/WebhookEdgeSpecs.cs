using System.Net;
using System.Text;
using EventBackbone.Ingestion.Api.Webhooks;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>
/// The budgets for webhooks that fail verification, per client address: in-process, with the client address and
/// <c>X-Forwarded-For</c> set per request (the socket-level attacks are EndToEnd.Tests' EdgeLoadSpecs).
/// </summary>
public sealed class WebhookEdgeSpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    private const string Proxy = "10.0.0.1";

    [Fact]
    public async Task An_address_that_sends_junk_is_refused_429_with_retry_after_while_a_signed_sender_elsewhere_is_accepted()
    {
        using var edge = Edge();

        // One token per second, bursts of 2: the third refused webhook within the second exhausts the address.
        Assert.Equal(StatusCodes.Status401Unauthorized, (await PostAsync(edge, "192.0.2.1", signed: false)).Response.StatusCode);
        Assert.Equal(StatusCodes.Status401Unauthorized, (await PostAsync(edge, "192.0.2.1", signed: false)).Response.StatusCode);
        var refused = await PostAsync(edge, "192.0.2.1", signed: true);

        Assert.Equal(StatusCodes.Status429TooManyRequests, refused.Response.StatusCode);
        Assert.StartsWith("application/problem+json", refused.Response.ContentType, StringComparison.Ordinal);
        Assert.Contains("/problems/rate-limited", await Body(refused), StringComparison.Ordinal);
        Assert.True(int.Parse(refused.Response.Headers.RetryAfter.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(edge, "192.0.2.2", signed: true)).Response.StatusCode);
    }

    [Fact]
    public async Task X_forwarded_for_names_the_client_only_when_the_peer_is_a_trusted_proxy()
    {
        using var edge = Edge();
        await PostAsync(edge, "192.0.2.1", signed: false);
        await PostAsync(edge, "192.0.2.1", signed: false);

        // Through the trusted proxy, the junk address is recognised; another client behind it is not punished for it.
        Assert.Equal(StatusCodes.Status429TooManyRequests, (await PostAsync(edge, Proxy, signed: true, forwardedFor: "198.51.100.7, 192.0.2.1")).Response.StatusCode);
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(edge, Proxy, signed: true, forwardedFor: "192.0.2.1, 192.0.2.3")).Response.StatusCode);
        // From anyone else the header is the sender's own claim: the junk address cannot pass itself off as another.
        Assert.Equal(StatusCodes.Status429TooManyRequests, (await PostAsync(edge, "192.0.2.1", signed: true, forwardedFor: "192.0.2.4")).Response.StatusCode);
    }

    [Fact]
    public async Task A_sender_that_recently_verified_is_accepted_while_junk_has_emptied_the_instance_and_its_own_address_budget()
    {
        // Instance: one refused webhook per second, bursts of 2; per address: the same.
        using var edge = Edge(("Backbone:Ingestion:UnverifiedPerSecond", "1"));
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(edge, "192.0.2.5", signed: true)).Response.StatusCode);

        // Junk from the sender's own (shared egress) address, then from others, until the instance refuses everyone new.
        await PostAsync(edge, "192.0.2.5", signed: false);
        await PostAsync(edge, "192.0.2.5", signed: false);
        var junkFrom = 10;
        while (junkFrom < 40 && (await PostAsync(edge, $"192.0.2.{junkFrom++}", signed: false)).Response.StatusCode != StatusCodes.Status429TooManyRequests)
        {
        }

        Assert.Equal(StatusCodes.Status429TooManyRequests, (await PostAsync(edge, "192.0.2.200", signed: true)).Response.StatusCode);
        var known = await PostAsync(edge, "192.0.2.5", signed: true);
        Assert.True(known.Response.StatusCode == StatusCodes.Status202Accepted, $"The recently verified sender was answered {known.Response.StatusCode}: {await Body(known)}");
    }

    [Fact]
    public async Task A_body_that_never_completes_is_answered_408_at_the_read_deadline_and_its_slot_is_released()
    {
        using var edge = Edge(("Backbone:Ingestion:BodyReadTimeout", "00:00:01"), ("Backbone:Ingestion:MaxConcurrentBodyReadsPerAddress", "1"));
        using var never = new NeverEndingBody(CancellationToken.None);

        // Bounded: unfixed, the read waits for as long as the sender keeps the connection.
        var answered = await PostAsync(edge, "192.0.2.1", signed: false, body: never).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(StatusCodes.Status408RequestTimeout, answered.Response.StatusCode);
        Assert.StartsWith("application/problem+json", answered.Response.ContentType, StringComparison.Ordinal);
        Assert.Contains("/problems/body-read-timeout", await Body(answered), StringComparison.Ordinal);
        // The address's only slot is free again.
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(edge, "192.0.2.1", signed: true)).Response.StatusCode);
    }

    [Fact]
    public async Task Slow_bodies_from_unverified_addresses_cannot_take_the_slots_a_recently_verified_sender_needs()
    {
        using var edge = Edge(("Backbone:Ingestion:MaxConcurrentBodyReads", "4"), ("Backbone:Ingestion:MaxConcurrentBodyReadsPerAddress", "1"), ("Backbone:Ingestion:BodyReadTimeout", "00:05:00"));
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(edge, "192.0.2.5", signed: true)).Response.StatusCode);
        using var release = new CancellationTokenSource();

        var slow = await HoldSlotsAsync(edge, ["192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14"], release.Token);
        var signed = await PostAsync(edge, "192.0.2.5", signed: true);
        await release.CancelAsync();
        await Task.WhenAll(slow);

        Assert.True(signed.Response.StatusCode == StatusCodes.Status202Accepted, $"The recently verified sender was answered {signed.Response.StatusCode}: {await Body(signed)}");
    }

    [Fact]
    public async Task A_recently_verified_address_is_not_held_to_the_per_address_share_of_body_reads()
    {
        using var edge = Edge(("Backbone:Ingestion:MaxConcurrentBodyReads", "4"), ("Backbone:Ingestion:MaxConcurrentBodyReadsPerAddress", "1"), ("Backbone:Ingestion:BodyReadTimeout", "00:05:00"));
        Assert.Equal(StatusCodes.Status202Accepted, (await PostAsync(edge, "192.0.2.5", signed: true)).Response.StatusCode);
        using var release = new CancellationTokenSource();

        // A slow connection from the sender's (shared egress) address holds its one per-address slot.
        var slow = await HoldSlotsAsync(edge, ["192.0.2.5"], release.Token);
        var signed = await PostAsync(edge, "192.0.2.5", signed: true);
        await release.CancelAsync();
        await Task.WhenAll(slow);

        Assert.True(signed.Response.StatusCode == StatusCodes.Status202Accepted, $"The recently verified sender was answered {signed.Response.StatusCode}: {await Body(signed)}");
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("proxy.internal")]
    public void A_trusted_proxy_that_is_no_address_or_network_is_an_invalid_setting_naming_it(string proxy)
    {
        var refused = Assert.Throws<InvalidSettingException>(() => WebhookEdgeSettings.Load(Configuration(("Backbone:Ingestion:TrustedProxies:0", proxy))));

        Assert.Equal("Backbone:Ingestion:TrustedProxies:0", refused.Setting);
    }

    [Theory]
    [InlineData("00:00:00.5")]
    [InlineData("01:00:00")]
    [InlineData("ten seconds")]
    public void A_body_read_timeout_outside_one_second_to_ten_minutes_is_an_invalid_setting(string timeout)
    {
        var refused = Assert.Throws<InvalidSettingException>(() => WebhookEdgeSettings.Load(Configuration(("Backbone:Ingestion:BodyReadTimeout", timeout))));

        Assert.Equal("Backbone:Ingestion:BodyReadTimeout", refused.Setting);
    }

    [Fact]
    public void Trusted_proxies_are_addresses_or_networks_and_the_budgets_have_safe_defaults()
    {
        var settings = WebhookEdgeSettings.Load(Configuration(("Backbone:Ingestion:TrustedProxies:0", "10.0.0.7"), ("Backbone:Ingestion:TrustedProxies:1", "fd00::/8")));

        Assert.Equal([IPNetwork.Parse("10.0.0.7/32"), IPNetwork.Parse("fd00::/8")], settings.TrustedProxies);
        Assert.Equal((64, 16, 10, 200), (settings.MaxConcurrentBodyReads, settings.MaxConcurrentBodyReadsPerAddress, settings.UnverifiedPerAddressPerSecond, settings.UnverifiedPerSecond));
        Assert.Equal(TimeSpan.FromSeconds(10), settings.BodyReadTimeout);
        Assert.Empty(WebhookEdgeSettings.Load(Configuration()).TrustedProxies);
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(x => new KeyValuePair<string, string?>(x.Key, x.Value))).Build();

    private WebApplicationFactoryEdge Edge(params (string Key, string Value)[] overrides) => new(factory.WithWebHostBuilder(builder =>
    {
        builder.UseSetting("Backbone:Ingestion:UnverifiedPerAddressPerSecond", "1");
        builder.UseSetting("Backbone:Ingestion:UnverifiedPerSecond", "1000");
        builder.UseSetting("Backbone:Ingestion:TrustedProxies:0", Proxy);
        foreach (var (key, value) in overrides)
        {
            builder.UseSetting(key, value);
        }
    }));

    /// <summary>
    /// One request per address whose body never completes until <paramref name="release"/>; returns once each holds a
    /// body-read slot (its body is being read) or has been answered, so the slots taken are known, not raced.
    /// </summary>
    private static async Task<IReadOnlyList<Task<HttpContext>>> HoldSlotsAsync(WebApplicationFactoryEdge edge, string[] addresses, CancellationToken release)
    {
        var requests = new List<Task<HttpContext>>();
        foreach (var address in addresses)
        {
            var body = new NeverEndingBody(release);
            var request = PostAsync(edge, address, signed: false, body: body);
            await Task.WhenAny(body.Reading, request).WaitAsync(TimeSpan.FromSeconds(60));
            requests.Add(request);
        }

        return requests;
    }

    private static Task<HttpContext> PostAsync(WebApplicationFactoryEdge edge, string from, bool signed, string? forwardedFor = null, Stream? body = null)
    {
        var json = Encoding.UTF8.GetBytes($$"""{"from":"{{from}}","n":"{{Guid.NewGuid()}}"}""");
        return edge.Factory.Server.SendAsync(context =>
        {
            context.Connection.RemoteIpAddress = IPAddress.Parse(from);
            context.Request.Method = HttpMethods.Post;
            context.Request.Path = "/api/v1/webhooks/shop";
            context.Request.ContentType = "application/json";
            context.Request.Headers[IngestionApiFactory.SignatureHeader] = signed ? IngestionApiFactory.Sign(json) : "sha256=" + new string('0', 64);
            if (forwardedFor is not null)
            {
                context.Request.Headers["X-Forwarded-For"] = forwardedFor;
            }

            context.Request.Body = body ?? new MemoryStream(json);
        });
    }

    private static async Task<string> Body(HttpContext context)
    {
        using var reader = new StreamReader(context.Response.Body);
        return await reader.ReadToEndAsync();
    }

    /// <summary>
    /// A body that sends "{" and then nothing, as a sender trickling below any useful rate: its second read waits for
    /// the server's cancellation or <paramref name="release"/> (then the body ends).
    /// </summary>
    private sealed class NeverEndingBody(CancellationToken release) : Stream
    {
        private readonly TaskCompletionSource _reading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _sentFirst;

        public Task Reading => _reading.Task;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_sentFirst)
            {
                _sentFirst = true;
                buffer.Span[0] = (byte)'{';
                return 1;
            }

            _reading.TrySetResult();
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, release);
            try
            {
                await Task.Delay(Timeout.Infinite, either.Token);
            }
            catch (OperationCanceledException) when (release.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
            }

            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Disposes the derived factory with the spec.</summary>
    private sealed class WebApplicationFactoryEdge(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> factory) : IDisposable
    {
        public Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> Factory { get; } = factory;

        public void Dispose() => Factory.Dispose();
    }
}
