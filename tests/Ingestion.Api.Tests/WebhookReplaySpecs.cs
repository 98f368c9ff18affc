using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Ingestion.Api.Webhooks;
using EventBackbone.ServiceDefaults.Settings;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>
/// GitHub and generic HMAC signatures cover the body only: no timestamp, and the delivery id beside it is not signed.
/// A captured body and signature stay valid forever, and resent under a new delivery id they were a new event.
/// </summary>
public sealed class WebhookReplaySpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    [Fact]
    public async Task A_captured_github_delivery_resent_with_a_new_delivery_id_is_answered_200_with_the_original_event_id_and_publishes_nothing_new()
    {
        var marker = Guid.NewGuid().ToString();
        var body = $$"""{"zen":"{{marker}}"}""";
        using var client = factory.CreateClient();

        using var original = await client.SendAsync(Signed("github", body, IngestionApiFactory.GitHubSecret, "X-GitHub-Delivery", Guid.NewGuid().ToString()));
        using var replayed = await client.SendAsync(Signed("github", body, IngestionApiFactory.GitHubSecret, "X-GitHub-Delivery", Guid.NewGuid().ToString()));

        await AssertReplayAnsweredAsOriginalAsync(original, replayed, marker);
    }

    [Fact]
    public async Task A_captured_hmac_delivery_resent_with_a_new_delivery_id_is_answered_200_with_the_original_event_id_and_publishes_nothing_new()
    {
        var marker = Guid.NewGuid().ToString();
        var body = $$"""{"order":"{{marker}}"}""";
        using var client = factory.CreateClient();

        using var original = await client.SendAsync(Signed("shop", body, IngestionApiFactory.ShopSecret, IngestionApiFactory.DeliveryHeader, Guid.NewGuid().ToString()));
        using var replayed = await client.SendAsync(Signed("shop", body, IngestionApiFactory.ShopSecret, IngestionApiFactory.DeliveryHeader, Guid.NewGuid().ToString()));

        await AssertReplayAnsweredAsOriginalAsync(original, replayed, marker);
    }

    [Fact]
    public async Task The_same_body_from_another_source_is_its_own_event()
    {
        var body = $$"""{"shared":"{{Guid.NewGuid()}}"}""";
        using var client = factory.CreateClient();

        using var toShop = await client.SendAsync(Signed("shop", body, IngestionApiFactory.ShopSecret, IngestionApiFactory.DeliveryHeader, Guid.NewGuid().ToString()));
        using var toGitHub = await client.SendAsync(Signed("github", body, IngestionApiFactory.GitHubSecret, "X-GitHub-Delivery", Guid.NewGuid().ToString()));

        Assert.Equal(HttpStatusCode.Accepted, toShop.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, toGitHub.StatusCode);
    }

    [Fact]
    public async Task A_source_that_opts_out_of_body_deduplication_takes_an_identical_body_as_a_new_event()
    {
        const string body = """{"status":"alive"}""";
        using var client = factory.CreateClient();

        using var first = await client.SendAsync(Signed("heartbeat", body, IngestionApiFactory.HeartbeatSecret, IngestionApiFactory.DeliveryHeader, Guid.NewGuid().ToString()));
        using var second = await client.SendAsync(Signed("heartbeat", body, IngestionApiFactory.HeartbeatSecret, IngestionApiFactory.DeliveryHeader, Guid.NewGuid().ToString()));

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.NotEqual(await EventIdAsync(first), await EventIdAsync(second));
    }

    [Theory]
    [InlineData("StandardWebhooks")]
    [InlineData("Stripe")]
    public void Opting_a_timestamped_scheme_out_of_body_deduplication_is_refused_at_start(string scheme)
    {
        var configuration = new ConfigurationBuilder().AddConfiguration(Source(scheme, toleranceSeconds: "60"))
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Backbone:Ingestion:Sources:partner:DeduplicateBodies"] = "false" }).Build();

        var refused = Assert.Throws<InvalidSettingException>(() => WebhookIngestionSettings.Load(configuration));

        Assert.Contains("Backbone:Ingestion:Sources:partner:DeduplicateBodies", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GitHub")]
    [InlineData("Hmac")]
    public void A_tolerance_for_a_scheme_without_a_timestamp_is_refused_at_start_rather_than_ignored(string scheme)
    {
        var refused = Assert.Throws<InvalidSettingException>(() => WebhookIngestionSettings.Load(Source(scheme, toleranceSeconds: "60")));

        Assert.Contains("Backbone:Ingestion:Sources:partner:ToleranceSeconds", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("StandardWebhooks")]
    [InlineData("Stripe")]
    public void A_tolerance_for_a_timestamped_scheme_is_taken(string scheme)
    {
        var settings = WebhookIngestionSettings.Load(Source(scheme, toleranceSeconds: "60"));

        Assert.Equal(TimeSpan.FromSeconds(60), settings.Sources["partner"].Tolerance);
    }

    private async Task AssertReplayAnsweredAsOriginalAsync(HttpResponseMessage original, HttpResponseMessage replayed, string marker)
    {
        Assert.Equal(HttpStatusCode.Accepted, original.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
        Assert.Equal(await EventIdAsync(original), await EventIdAsync(replayed));
        var harness = factory.Services.GetRequiredService<ITestHarness>();
        await harness.InactivityTask;
        Assert.Single(harness.Published.Select<WebhookReceived>(x => x.Context.Message.Payload.Contains(marker, StringComparison.Ordinal)));
    }

    private static async Task<Guid> EventIdAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetGuid();

    private static HttpRequestMessage Signed(string source, string body, string secret, string deliveryHeader, string delivery)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/api/v1/webhooks/{source}", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        var signatureHeader = source == "github" ? "X-Hub-Signature-256" : IngestionApiFactory.SignatureHeader;
        request.Headers.Add(signatureHeader, IngestionApiFactory.Sign(Encoding.UTF8.GetBytes(body), secret));
        request.Headers.Add(deliveryHeader, delivery);
        return request;
    }

    private static IConfiguration Source(string scheme, string toleranceSeconds) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Backbone:Ingestion:Sources:partner:Scheme"] = scheme,
            ["Backbone:Ingestion:Sources:partner:Secrets:0"] = "whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("partner-secret")),
            ["Backbone:Ingestion:Sources:partner:Header"] = "X-Signature",
            ["Backbone:Ingestion:Sources:partner:ToleranceSeconds"] = toleranceSeconds,
        }).Build();
}
