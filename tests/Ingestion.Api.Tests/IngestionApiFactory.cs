using System.Security.Cryptography;
using System.Text;
using EventBackbone.ServiceDefaults.Authentication;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>The real API host, in-process, on the in-memory transport and in-memory storage, with the test harness.</summary>
public sealed class IngestionApiFactory : WebApplicationFactory<Program>
{
    public const int MaxBodyBytes = 1024;
    public const string SignatureHeader = "X-Signature";
    public const string ShopSecret = "shop-test-secret";
    public const string DeliveryHeader = "X-Delivery-Id";
    public const string GitHubSecret = "github-test-secret";
    public const string HeartbeatSecret = "heartbeat-secret";
    /// <summary>Made at run time: a key written in the repository is public (Deployment.Tests' SigningKeySpecs).</summary>
    public static readonly string TokenSigningKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>The token settings this host checks against; tests mint with them, or with a variation to be refused.</summary>
    public static BackboneAuthSettings Auth { get; } = new(
        "eventbackbone", "eventbackbone-api", null, [new SymmetricSecurityKey(Encoding.UTF8.GetBytes(TokenSigningKey))]);

    /// <summary>A client with a valid bearer token for <paramref name="subject"/> granting <paramref name="scopes"/>.</summary>
    public HttpClient CreateCommandClient(string subject, params string[] scopes) =>
        CreateClientWithToken(DevTokens.Mint(Auth, subject, scopes, TimeSpan.FromMinutes(5), DateTime.UtcNow));

    public HttpClient CreateClientWithToken(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>A client that signs every body for the "shop" source, as a well-behaved sender would.</summary>
    public HttpClient CreateSignedClient() => CreateDefaultClient(new SigningHandler());

    public static string Sign(byte[] body, string secret = ShopSecret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Backbone:Transport", "InMemory");
        // Empty connection string + in-memory transport = in-memory storage: the fast tier needs no server.
        builder.UseSetting("ConnectionStrings:Ingestion", "");
        builder.UseSetting("Backbone:Ingestion:MaxBodyBytes", MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Backbone:Ingestion:Sources:shop:Scheme", "Hmac");
        builder.UseSetting("Backbone:Ingestion:Sources:shop:Header", SignatureHeader);
        builder.UseSetting("Backbone:Ingestion:Sources:shop:Prefix", "sha256=");
        builder.UseSetting("Backbone:Ingestion:Sources:shop:Secrets:0", ShopSecret);
        builder.UseSetting("Backbone:Ingestion:Sources:shop:DedupeHeader", DeliveryHeader);
        builder.UseSetting("Backbone:Auth:SigningKeys:0", TokenSigningKey);
        builder.UseSetting("Backbone:Ingestion:Sources:github:Scheme", "GitHub");
        builder.UseSetting("Backbone:Ingestion:Sources:github:Secrets:0", GitHubSecret);
        builder.UseSetting("Backbone:Ingestion:Sources:heartbeat:Scheme", "Hmac");
        builder.UseSetting("Backbone:Ingestion:Sources:heartbeat:Header", SignatureHeader);
        builder.UseSetting("Backbone:Ingestion:Sources:heartbeat:Prefix", "sha256=");
        builder.UseSetting("Backbone:Ingestion:Sources:heartbeat:Secrets:0", HeartbeatSecret);
        builder.UseSetting("Backbone:Ingestion:Sources:heartbeat:DeduplicateBodies", "false");
        builder.UseSetting("Backbone:Ingestion:Sources:limited:Scheme", "GitHub");
        builder.UseSetting("Backbone:Ingestion:Sources:limited:Secrets:0", "limited-secret");
        builder.UseSetting("Backbone:Ingestion:Sources:limited:RatePerSecond", "1");
        builder.UseSetting("Backbone:Ingestion:Sources:limited:Burst", "2");
        builder.UseSetting("Backbone:Ingestion:Sources:scarce:Scheme", "GitHub");
        builder.UseSetting("Backbone:Ingestion:Sources:scarce:Secrets:0", "scarce-secret");
        builder.UseSetting("Backbone:Ingestion:Sources:scarce:RatePerSecond", "1");
        builder.UseSetting("Backbone:Ingestion:Sources:scarce:Burst", "1");
        // In-process requests have no client address, so every spec's deliberately refused webhooks would share one
        // unverified budget and later specs would be 429s; WebhookEdgeSpecs tests the budgets with their own limits.
        builder.UseSetting("Backbone:Ingestion:UnverifiedPerAddressPerSecond", "1000000");
        builder.UseSetting("Backbone:Ingestion:UnverifiedPerSecond", "1000000");
        builder.ConfigureServices(services => services.AddMassTransitTestHarness());
    }

    private sealed class SigningHandler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is not null)
            {
                var body = await request.Content.ReadAsByteArrayAsync(cancellationToken);
                request.Headers.Add(SignatureHeader, Sign(body));
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
