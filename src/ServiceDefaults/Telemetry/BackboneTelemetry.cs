using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EventBackbone.ServiceDefaults.Telemetry;

/// <summary>
/// Traces and metrics, the same for every host: ASP.NET Core, HttpClient, Npgsql, MassTransit and our own sources and
/// meters (<c>EventBackbone.*</c>). Exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard
/// variable, so a collector is configured the way every OpenTelemetry deployment does it); metrics are also scraped at
/// <c>/metrics</c> in Prometheus' format.
/// </summary>
public static class BackboneTelemetry
{
    /// <summary>Every source and meter of ours is named under this prefix.</summary>
    public const string Prefix = "EventBackbone.";

    private static readonly string[] Sources = ["MassTransit", "Npgsql", Prefix + "*"];

    private static readonly string[] Meters = ["MassTransit", "Npgsql", Prefix + "*"];

    public static WebApplicationBuilder AddBackboneTelemetry(this WebApplicationBuilder builder)
    {
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName))
            .WithTracing(tracing => tracing
                // Probes and scrapes every few seconds would bury the traces an on-call engineer looks for.
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsOperational(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddSource(Sources))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddMeter(Meters)
                .AddPrometheusExporter());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.UseOtlpExporter();
        }

        return builder;
    }

    public static WebApplication MapBackboneTelemetry(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.Ordinal) || path.StartsWithSegments("/metrics", StringComparison.Ordinal);
}
