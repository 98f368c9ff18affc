extern alias IngestionApi;

using System.Text;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Integration.Tests;

/// <summary>The real ingestion API in-process against real servers, with a GitHub source to post signed deliveries to.</summary>
internal static class IngestionApiHost
{
    public const string GitHubSecret = "integration-github-secret";

    public static WebApplicationFactory<IngestionApi::Program> Start(IReadOnlyDictionary<string, string> hostSettings) =>
        new WebApplicationFactory<IngestionApi::Program>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in hostSettings)
            {
                builder.UseSetting(key, value);
            }

            builder.UseSetting("Backbone:Ingestion:Sources:github:Scheme", "GitHub");
            builder.UseSetting("Backbone:Ingestion:Sources:github:Secrets:0", GitHubSecret);
            builder.ConfigureServices(services => services.Configure<MassTransitHostOptions>(o => o.WaitUntilStarted = true));
        });

    public static HttpRequestMessage GitHubDelivery(string body, string delivery)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/github", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Hub-Signature-256", WebhookSigning.Sha256Header(GitHubSecret, body));
        request.Headers.Add("X-GitHub-Event", "ping");
        request.Headers.Add("X-GitHub-Delivery", delivery);
        return request;
    }
}
