using EventBackbone.DeadLetters.Capture;
using EventBackbone.DeadLetters.Persistence;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Retention;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace EventBackbone.DeadLetters;

/// <summary>The dead-letter service: capture of the broker's error and skipped queues, and the operators' API.</summary>
public static class DeadLettersModule
{
    public const string DatabaseName = "DeadLetters";

    public static WebApplicationBuilder AddDeadLetters(this WebApplicationBuilder builder)
    {
        builder.AddServiceDatabase<DeadLettersDbContext>(DatabaseName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        var connectionString = new SettingsReader(builder.Configuration)
            .Required($"ConnectionStrings:{DatabaseName}", "the dead-letter store is PostgreSQL; there is no embedded mode");
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(ServiceDatabase.WithBoundedPool(connectionString)));
        var settings = DeadLetterSettings.Load(builder.Configuration);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<DeadLetterStore>();
        builder.Services.AddSingleton<DeadLetterMetrics>();
        builder.Services.AddSingleton<DeadLetterReplayer>();
        builder.Services.AddSingleton<ReplayJobRunner>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ReplayJobRunner>());
        builder.Services.AddHttpClient(DeadLetterCapture.ManagementClient).ConfigurePrimaryHttpMessageHandler(services =>
        {
            var handler = new SocketsHttpHandler();
            // A private CA that signs the broker's certificate usually signs its management listener's too.
            if (services.GetRequiredService<DeadLetterSettings>().RabbitMq.Tls is { TrustedRoots: not null } tls)
            {
                handler.SslOptions.RemoteCertificateValidationCallback = tls.ValidateServerCertificate;
            }

            return handler;
        });
        builder.Services.AddSingleton<DeadLetterCapture>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DeadLetterCapture>());
        // Ready = its database (checked by AddServiceDatabase) and the broker it captures from.
        builder.Services.AddHealthChecks().AddCheck<CaptureHealthCheck>("broker", tags: [EventBackbone.ServiceDefaults.ServiceDefaultsExtensions.ReadyTag]);
        builder.Services.AddTableRetention(
            builder.Configuration, services => services.GetRequiredService<NpgsqlDataSource>(), DeadLetterRetention.Rules(builder.Configuration, settings));
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, RefusedCallAudit>();
        builder.Services.AddOpenApi();
        return builder;
    }

    public static WebApplication MapDeadLetterEndpoints(this WebApplication app)
    {
        app.MapDeadLetterApi();
        app.MapDeadLetterActions();
        // The contract the console and scripts code against, as the front door's: /openapi/v1.json.
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
    }
}
