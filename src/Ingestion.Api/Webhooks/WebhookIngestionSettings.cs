using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>The <c>Backbone:Ingestion</c> section.</summary>
public sealed record WebhookIngestionSettings(int MaxBodyBytes)
{
    public static WebhookIngestionSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        return new WebhookIngestionSettings(
            settings.Int("Backbone:Ingestion:MaxBodyBytes", 1024 * 1024, 1, 64 * 1024 * 1024));
    }
}
