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

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("proxy.internal")]
    public void A_trusted_proxy_that_is_no_address_or_network_is_an_invalid_setting_naming_it(string proxy)
    {
        var refused = Assert.Throws<InvalidSettingException>(() => WebhookEdgeSettings.Load(Configuration(("Backbone:Ingestion:TrustedProxies:0", proxy))));

        Assert.Equal("Backbone:Ingestion:TrustedProxies:0", refused.Setting);
    }

    [Fact]
    public void Trusted_proxies_are_addresses_or_networks_and_the_budgets_have_safe_defaults()
    {
        var settings = WebhookEdgeSettings.Load(Configuration(("Backbone:Ingestion:TrustedProxies:0", "10.0.0.7"), ("Backbone:Ingestion:TrustedProxies:1", "fd00::/8")));

        Assert.Equal([IPNetwork.Parse("10.0.0.7/32"), IPNetwork.Parse("fd00::/8")], settings.TrustedProxies);
        Assert.Equal((64, 16, 10, 200), (settings.MaxConcurrentBodyReads, settings.MaxConcurrentBodyReadsPerAddress, settings.UnverifiedPerAddressPerSecond, settings.UnverifiedPerSecond));
        Assert.Empty(WebhookEdgeSettings.Load(Configuration()).TrustedProxies);
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(x => new KeyValuePair<string, string?>(x.Key, x.Value))).Build();

    private WebApplicationFactoryEdge Edge() => new(factory.WithWebHostBuilder(builder =>
    {
        builder.UseSetting("Backbone:Ingestion:UnverifiedPerAddressPerSecond", "1");
        builder.UseSetting("Backbone:Ingestion:UnverifiedPerSecond", "1000");
        builder.UseSetting("Backbone:Ingestion:TrustedProxies:0", Proxy);
    }));

    private static Task<HttpContext> PostAsync(WebApplicationFactoryEdge edge, string from, bool signed, string? forwardedFor = null)
    {
        var body = Encoding.UTF8.GetBytes($$"""{"from":"{{from}}","n":"{{Guid.NewGuid()}}"}""");
        return edge.Factory.Server.SendAsync(context =>
        {
            context.Connection.RemoteIpAddress = IPAddress.Parse(from);
            context.Request.Method = HttpMethods.Post;
            context.Request.Path = "/api/v1/webhooks/shop";
            context.Request.ContentType = "application/json";
            context.Request.Headers[IngestionApiFactory.SignatureHeader] = signed ? IngestionApiFactory.Sign(body) : "sha256=" + new string('0', 64);
            if (forwardedFor is not null)
            {
                context.Request.Headers["X-Forwarded-For"] = forwardedFor;
            }

            context.Request.Body = new MemoryStream(body);
        });
    }

    private static async Task<string> Body(HttpContext context)
    {
        using var reader = new StreamReader(context.Response.Body);
        return await reader.ReadToEndAsync();
    }

    /// <summary>Disposes the derived factory with the spec.</summary>
    private sealed class WebApplicationFactoryEdge(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> factory) : IDisposable
    {
        public Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> Factory { get; } = factory;

        public void Dispose() => Factory.Dispose();
    }
}
