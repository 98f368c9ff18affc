using System.Text.Json;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Http;
using EventBackbone.ServiceDefaults.Settings;
using EventBackbone.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace EventBackbone.ServiceDefaults;

public static class ServiceDefaultsExtensions
{
    /// <summary>Health checks with this tag must pass before a host reports ready (database, broker).</summary>
    public const string ReadyTag = "ready";

    /// <summary>Logging, traces and metrics, Kestrel limits, problem details, bearer-token checks and health checks, the same for every host.</summary>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder)
    {
        var settings = new SettingsReader(builder.Configuration);
        // Embedded mode is for a person at a terminal; everything else feeds a log pipeline.
        var defaultFormat = EmbeddedMode.IsOn(builder.Configuration)
            ? LogFormat.Text
            : LogFormat.Json;
        var format = settings.Enum("Backbone:Logging:Format", defaultFormat);

        builder.Services.AddSerilog(logger =>
        {
            logger
                .MinimumLevel.Information()
                .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
                .MinimumLevel.Override("Microsoft.EntityFrameworkCore", LogEventLevel.Warning)
                // A failing check is answered to the probe with its reason (/health/ready); logged as well, every probe
                // during an outage (or while a host starts) would add an error line — a storm that buries the cause.
                .MinimumLevel.Override("Microsoft.Extensions.Diagnostics.HealthChecks", LogEventLevel.Fatal)
                .Enrich.FromLogContext()
                .Enrich.WithProperty("Service", builder.Environment.ApplicationName);
            if (format == LogFormat.Json)
            {
                logger.WriteTo.Console(new RenderedCompactJsonFormatter());
            }
            else
            {
                logger.WriteTo.Console(
                    outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}");
            }
        });

        builder.AddKestrelLimits();
        builder.Services.AddProblemDetails(options =>
            // Also in the X-Request-Id header; in the body it survives clients that log only the body.
            options.CustomizeProblemDetails = context => context.ProblemDetails.Extensions["requestId"] = context.HttpContext.TraceIdentifier);
        // A request Kestrel finds malformed only while the endpoint reads its body (trickled below the minimum data rate,
        // broken chunk framing, cut short) is the client's fault: answered with Kestrel's status (408, 400, 413), not a
        // 500 that reads as a server failure and would page someone.
        builder.Services.Configure<ExceptionHandlerOptions>(options => options.StatusCodeSelector = exception =>
            exception is BadHttpRequestException badRequest ? badRequest.StatusCode : StatusCodes.Status500InternalServerError);
        // Every service validates bearer tokens itself, also behind the edge that checked them first.
        builder.AddBackboneAuthentication();
        builder.Services.AddHealthChecks();
        builder.AddBackboneTelemetry();
        // SIGTERM: stop taking work, let in-flight requests and messages finish, then exit 0 — bounded, so a stuck
        // consumer cannot hold a rolling deployment for ever (Kubernetes' grace period must be a little longer).
        var shutdownTimeout = settings.Duration("Backbone:ShutdownTimeout", TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(options => options.ShutdownTimeout = shutdownTimeout);
        return builder;
    }

    /// <summary>
    /// <c>/health/live</c>: the process answers. <c>/health/ready</c>: every check tagged <see cref="ReadyTag"/> passes.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseRequestIds();
        // An unhandled exception becomes a problem+json 500 (or what a registered IExceptionHandler makes of it, e.g.
        // 503 while the database is unreachable), never a bare error page.
        app.UseExceptionHandler();
        app.UseSerilogRequestLogging(options =>
            // Probes every few seconds would drown the lines an on-call engineer is looking for.
            options.GetLevel = (context, _, exception) =>
                exception is null && (context.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal) || context.Request.Path.StartsWithSegments("/metrics", StringComparison.Ordinal))
                    ? LogEventLevel.Verbose
                    : LogEventLevel.Information);
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapHealthChecks("/health/live", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = WriteHealthReport,
        });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteHealthReport,
        });
        app.MapBackboneTelemetry();
        return app;
    }

    private static Task WriteHealthReport(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                entry => entry.Key,
                entry => new { status = entry.Value.Status.ToString(), description = entry.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
