using EventBackbone.Ingestion.Api.Webhooks.Signatures;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Webhooks;

public enum WebhookSchemeKind
{
    StandardWebhooks,
    GitHub,
    Stripe,
    Hmac,
}

/// <summary>One configured sender: how it signs, with which secrets (several while rotating), and its limits.</summary>
public sealed record WebhookSource(
    string Name, IWebhookSignatureScheme Scheme, IReadOnlyList<string> Secrets, int MaxBodyBytes, TimeSpan Tolerance, int RatePerSecond, int Burst);

/// <summary>
/// The <c>Backbone:Ingestion</c> section. Sources are configuration, not code:
/// <c>Backbone:Ingestion:Sources:{name}:Scheme</c> (StandardWebhooks | GitHub | Stripe | Hmac), <c>…:Secrets:0</c>,
/// <c>…:Secrets:1</c> (rotation), <c>…:MaxBodyBytes</c>, <c>…:ToleranceSeconds</c>, <c>…:RatePerSecond</c> and
/// <c>…:Burst</c> (a token bucket per source); for Hmac also <c>…:Header</c>,
/// <c>…:Encoding</c> (Hex | Base64), <c>…:Prefix</c> and <c>…:DedupeHeader</c> (the sender's delivery id, if any).
/// </summary>
public sealed record WebhookIngestionSettings(int MaxBodyBytes, IReadOnlyDictionary<string, WebhookSource> Sources)
{
    /// <summary>
    /// <c>Backbone:Ingestion:PublicEventStatus</c>: whether <c>GET /api/v1/events/{id}</c> answers without a token.
    /// Off by default: an event id travels in senders' logs and retries, and should not be a key to the event's status.
    /// </summary>
    public bool PublicEventStatus { get; init; }

    public static WebhookIngestionSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var maxBodyBytes = settings.Int("Backbone:Ingestion:MaxBodyBytes", 1024 * 1024, 1, 64 * 1024 * 1024);
        var sources = new Dictionary<string, WebhookSource>(StringComparer.Ordinal);
        foreach (var section in configuration.GetSection("Backbone:Ingestion:Sources").GetChildren())
        {
            var prefix = $"Backbone:Ingestion:Sources:{section.Key}";
            if (!WebhookEndpoints.IsSourceName(section.Key))
            {
                throw new InvalidSettingException(prefix, "a source name is lowercase letters, digits and '-', at most 64 characters.");
            }

            var kind = settings.Enum<WebhookSchemeKind>($"{prefix}:Scheme");
            var secrets = section.GetSection("Secrets").GetChildren().Select(x => x.Value).OfType<string>()
                .Where(x => !string.IsNullOrWhiteSpace(x)).ToList();
            if (secrets.Count == 0)
            {
                throw new InvalidSettingException($"{prefix}:Secrets", "at least one secret is required.");
            }

            if (kind == WebhookSchemeKind.StandardWebhooks && secrets.Any(x => !IsBase64(x.StartsWith("whsec_", StringComparison.Ordinal) ? x[6..] : x)))
            {
                throw new InvalidSettingException($"{prefix}:Secrets", "Standard Webhooks secrets are whsec_ followed by base64.");
            }

            IWebhookSignatureScheme scheme = kind switch
            {
                WebhookSchemeKind.StandardWebhooks => new StandardWebhooksScheme(),
                WebhookSchemeKind.GitHub => new GitHubScheme(),
                WebhookSchemeKind.Stripe => new StripeScheme(),
                _ => new GenericHmacScheme(
                    settings.Required($"{prefix}:Header", "the header that carries the signature"),
                    settings.Enum($"{prefix}:Encoding", SignatureEncoding.Hex),
                    settings.String($"{prefix}:Prefix", ""),
                    settings.Optional($"{prefix}:DedupeHeader")),
            };
            sources[section.Key] = new WebhookSource(
                section.Key,
                scheme,
                secrets,
                settings.Int($"{prefix}:MaxBodyBytes", maxBodyBytes, 1, 64 * 1024 * 1024),
                TimeSpan.FromSeconds(settings.Int($"{prefix}:ToleranceSeconds", 300, 1, 86_400)),
                settings.Int($"{prefix}:RatePerSecond", 1000, 1, 1_000_000),
                settings.Int($"{prefix}:Burst", 2000, 1, 1_000_000));
        }

        return new WebhookIngestionSettings(maxBodyBytes, sources) { PublicEventStatus = settings.Bool("Backbone:Ingestion:PublicEventStatus", false) };
    }

    private static bool IsBase64(string value) => Convert.TryFromBase64String(value, new byte[value.Length], out _);
}
