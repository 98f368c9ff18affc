using EventBackbone.Ingestion.Api.Webhooks.Signatures;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>One configured sender: how it signs, with which secrets (several while rotating), and its limits.</summary>
public sealed record WebhookSource(
    string Name, IWebhookSignatureScheme Scheme, IReadOnlyList<string> Secrets, int MaxBodyBytes, TimeSpan Tolerance, int RatePerSecond, int Burst)
{
    /// <summary>
    /// Whether an identical body within the duplicate window is a repeat. True for every scheme that signs no timestamp
    /// unless the source opts out (<c>…:DeduplicateBodies</c> false): then a captured request can be replayed for ever.
    /// </summary>
    public bool DeduplicatesBodies { get; init; } = !Scheme.SignsTimestamp;
}

/// <summary>
/// The <c>Backbone:Ingestion</c> section. Sources are configuration, not code:
/// <c>Backbone:Ingestion:Sources:{name}:Scheme</c> (one of <see cref="WebhookSignatureSchemes"/>: StandardWebhooks | GitHub |
/// Stripe | Hmac), <c>…:Secrets:0</c>,
/// <c>…:Secrets:1</c> (rotation), <c>…:MaxBodyBytes</c>, <c>…:ToleranceSeconds</c>, <c>…:RatePerSecond</c> and
/// <c>…:Burst</c> (a token bucket per source); for Hmac also <c>…:Header</c>,
/// <c>…:Encoding</c> (Hex | Base64), <c>…:Prefix</c> and <c>…:DedupeHeader</c> (the sender's delivery id, if any).
/// <c>Backbone:Ingestion:DuplicateWindow</c> (default 3 days): how long an identical body from a source whose scheme
/// signs no timestamp is answered as a repeat of the first.
/// </summary>
public sealed record WebhookIngestionSettings(int MaxBodyBytes, IReadOnlyDictionary<string, WebhookSource> Sources)
{
    public const string DuplicateWindowKey = "Backbone:Ingestion:DuplicateWindow";

    /// <summary>
    /// GitHub keeps deliveries for manual redelivery for 3 days, and Stripe retries for up to 3 days: a sender's own
    /// retries stay recognised, while a captured body replayed later than this is a new event again.
    /// </summary>
    public static readonly TimeSpan DefaultDuplicateWindow = TimeSpan.FromDays(3);

    /// <summary>
    /// A replay of a source without a signed timestamp (GitHub, Hmac) is recognised by its body for this long: the
    /// receipts that remember the bodies must be kept at least this long (see <c>IngestionRetention</c>).
    /// </summary>
    public TimeSpan DuplicateWindow { get; init; } = DefaultDuplicateWindow;

    /// <summary>
    /// <c>Backbone:Ingestion:PublicEventStatus</c>: whether <c>GET /api/v1/events/{id}</c> answers without a token.
    /// Off by default: an event id travels in senders' logs and retries, and should not be a key to the event's status.
    /// </summary>
    public bool PublicEventStatus { get; init; }

    /// <summary>Where every webhook source is configured, one child section per source name.</summary>
    internal const string SourcesSection = "Backbone:Ingestion:Sources";

    public static WebhookIngestionSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var maxBodyBytes = settings.Int("Backbone:Ingestion:MaxBodyBytes", 1024 * 1024, 1, 64 * 1024 * 1024);
        var duplicateWindow = settings.Duration(DuplicateWindowKey, DefaultDuplicateWindow, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365));
        var sources = new Dictionary<string, WebhookSource>(StringComparer.Ordinal);
        foreach (var section in configuration.GetSection(SourcesSection).GetChildren())
        {
            var prefix = $"{SourcesSection}:{section.Key}";
            if (!WebhookEndpoints.IsSourceName(section.Key))
            {
                throw new InvalidSettingException(prefix, "a source name is lowercase letters, digits and '-', at most 64 characters.");
            }

            var registration = WebhookSignatureSchemes.Named(settings, $"{prefix}:Scheme");
            var secrets = section.GetSection("Secrets").GetChildren().Select(x => x.Value).OfType<string>()
                .Where(x => !string.IsNullOrWhiteSpace(x)).ToList();
            if (secrets.Count == 0)
            {
                throw new InvalidSettingException($"{prefix}:Secrets", "at least one secret is required.");
            }

            var scheme = registration.Create(settings, section.Key);
            if (secrets.Select(scheme.SecretProblem).FirstOrDefault(x => x is not null) is { } secretProblem)
            {
                throw new InvalidSettingException($"{prefix}:Secrets", secretProblem);
            }

            // A tolerance the scheme cannot apply would read as protection against replays that it is not.
            var toleranceKey = $"{prefix}:ToleranceSeconds";
            if (!scheme.SignsTimestamp && settings.Optional(toleranceKey) is not null)
            {
                throw new InvalidSettingException(toleranceKey,
                    $"{registration.Name} signatures carry no timestamp, so there is no tolerance to apply; a replayed body is refused within {DuplicateWindowKey} instead.");
            }

            // Only for a sender whose identical bodies are distinct events (a heartbeat, a benchmark's recycled requests);
            // a timestamped scheme has no body guard to switch off, and silently taking the setting would mislead.
            var deduplicateBodiesKey = $"{prefix}:DeduplicateBodies";
            if (scheme.SignsTimestamp && settings.Optional(deduplicateBodiesKey) is not null)
            {
                throw new InvalidSettingException(deduplicateBodiesKey,
                    $"{registration.Name} signatures carry a timestamp, so replays are refused by ToleranceSeconds and the delivery id; there is no body guard to switch.");
            }

            sources[section.Key] = new WebhookSource(
                section.Key,
                scheme,
                secrets,
                settings.Int($"{prefix}:MaxBodyBytes", maxBodyBytes, 1, 64 * 1024 * 1024),
                TimeSpan.FromSeconds(settings.Int(toleranceKey, 300, 1, 86_400)),
                settings.Int($"{prefix}:RatePerSecond", 1000, 1, 1_000_000),
                settings.Int($"{prefix}:Burst", 2000, 1, 1_000_000))
            {
                DeduplicatesBodies = !scheme.SignsTimestamp && settings.Bool(deduplicateBodiesKey, true),
            };
        }

        return new WebhookIngestionSettings(maxBodyBytes, sources)
        {
            DuplicateWindow = duplicateWindow,
            PublicEventStatus = settings.Bool("Backbone:Ingestion:PublicEventStatus", false),
        };
    }
}
