using EventBackbone.Ingestion.Api.AsyncApi;
using EventBackbone.Ingestion.Api.Commands;
using EventBackbone.Ingestion.Api.FrontDoor;
using EventBackbone.Ingestion.Api.Persistence;
using EventBackbone.Ingestion.Api.Webhooks;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Transport;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace EventBackbone.Ingestion.Api;

/// <summary>The ingestion edge as a module: its own host uses it, and so does the embedded all-in-one host.</summary>
public static class IngestionModule
{
    public const string DatabaseName = "Ingestion";

    public static WebApplicationBuilder AddIngestion(this WebApplicationBuilder builder)
    {
        builder.AddServiceDatabase<IngestionDbContext>(DatabaseName);
        var webhooks = WebhookIngestionSettings.Load(builder.Configuration);
        builder.Services.AddSingleton(webhooks);
        builder.Services.AddWebhookRateLimiting(webhooks, WebhookEdgeSettings.Load(builder.Configuration));
        builder.Services.AddOpenApi(options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[CommandEndpoints.BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A JWT from the configured issuer for the configured audience; each command names the scope it needs. "
                    + "Locally: dotnet run --project src/Embedded -- dev-token --scope commands:signup",
            };
            return Task.CompletedTask;
        }));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddScoped<WebhookRecorder>();
        builder.Services.AddSingleton<WebhookReceiptRules>();
        var isPostgres = builder.Services.IsPostgres<IngestionDbContext>();
        builder.Services.AddIngestionRetention(builder.Configuration, webhooks, isPostgres);
        if (isPostgres)
        {
            // One instance: the group commit gathers the webhooks of one writer (this store) into one lookup and insert.
            builder.Services.AddSingleton<SqlWebhookReceiptStore>();
            builder.Services.AddSingleton<IWebhookReceiptStore>(services => services.GetRequiredService<SqlWebhookReceiptStore>());
        }
        else
        {
            builder.Services.AddScoped<IWebhookReceiptStore, EfWebhookReceiptStore>();
        }

        builder.Services.AddSingleton<WebhookMetrics>();
        builder.Services.AddSingleton(CommandSettings.Load(builder.Configuration));
        builder.Services.AddSingleton<CommandCatalog>();
        builder.Services.AddScoped<CommandAcceptance>();
        return builder;
    }

    /// <summary>The edge only publishes; it hosts no consumers.</summary>
    public static void ConfigureBus(IBusRegistrationConfigurator bus)
    {
    }

    public static WebApplication MapIngestionEndpoints(this WebApplication app)
    {
        app.UseRateLimiter();
        app.MapWebhookEndpoints();
        app.MapCommandEndpoints();
        app.MapCallerPermissions();
        app.MapOutboxStatus<IngestionDbContext>("ingestion");
        // The contract for senders and their support staff: /openapi/v1.json, browsable at /docs.
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs", options => options.WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        // The bus contract, for services that publish or consume without going through the edge: /asyncapi.json.
        app.MapAsyncApi();
        return app;
    }
}
