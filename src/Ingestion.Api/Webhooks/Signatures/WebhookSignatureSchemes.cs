using EventBackbone.ServiceDefaults.Settings;

namespace EventBackbone.Ingestion.Api.Webhooks.Signatures;

/// <summary>A scheme as a source names it in <c>Backbone:Ingestion:Sources:{name}:Scheme</c>, and how that source's scheme is made.</summary>
/// <param name="Create">The scheme for one source, from its settings (the reader and the source's name).</param>
internal sealed record WebhookSignatureSchemeRegistration(string Name, Func<SettingsReader, string, IWebhookSignatureScheme> Create);

/// <summary>Every signature scheme a source may name: adding one is its own file and one line here.</summary>
internal static class WebhookSignatureSchemes
{
    public static readonly IReadOnlyList<WebhookSignatureSchemeRegistration> All =
    [
        new("StandardWebhooks", (_, _) => new StandardWebhooksScheme()),
        new("GitHub", (_, _) => new GitHubScheme()),
        new("Stripe", (_, _) => new StripeScheme()),
        new("Hmac", GenericHmacScheme.FromSettings),
    ];

    /// <summary>The registration named by <paramref name="key"/> (case-insensitive), or the host stops naming the key and every scheme.</summary>
    public static WebhookSignatureSchemeRegistration Named(SettingsReader settings, string key)
    {
        var names = string.Join(", ", All.Select(x => x.Name));
        var name = settings.Required(key, $"one of {names}");
        return All.SingleOrDefault(x => string.Equals(x.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidSettingException(key, $"'{name}' is not one of {names}.");
    }
}
