using System.Net;
using System.Text.Json;

namespace EventBackbone.Ingestion.Api.Tests;

public sealed class HealthSpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    [Fact]
    public async Task Ready_reports_the_database_and_the_bus()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var checks = report.RootElement.GetProperty("checks");
        Assert.True(checks.TryGetProperty("ingestion-database", out _), report.RootElement.ToString());
        Assert.True(checks.TryGetProperty("bus", out _), report.RootElement.ToString());
    }

    [Fact]
    public async Task Live_answers_without_running_any_check()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Empty(report.RootElement.GetProperty("checks").EnumerateObject());
    }
}
