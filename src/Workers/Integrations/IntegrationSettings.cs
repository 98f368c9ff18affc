using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Workers.Integrations;

public enum IntegrationKind
{
    None,
    GitHub,
    Stripe,

    /// <summary>A signup form or identity provider: <c>signup.requested</c> starts the signup workflow.</summary>
    Signups,
}

/// <summary>
/// <c>Backbone:Integrations:Sources:{source}</c> = <c>GitHub</c> | <c>Stripe</c> | <c>Signups</c> | <c>None</c>: which
/// translation a webhook source gets. A source named <c>github</c>, <c>stripe</c> or <c>signups</c> gets that one unless
/// configured otherwise.
/// </summary>
public sealed record IntegrationSettings(IReadOnlyDictionary<string, IntegrationKind> Sources)
{
    public IntegrationKind For(string source) =>
        Sources.TryGetValue(source, out var kind) ? kind : source switch
        {
            "github" => IntegrationKind.GitHub,
            "stripe" => IntegrationKind.Stripe,
            "signups" => IntegrationKind.Signups,
            _ => IntegrationKind.None,
        };

    public static IntegrationSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        return new IntegrationSettings(configuration.GetSection("Backbone:Integrations:Sources").GetChildren()
            .ToDictionary(x => x.Key, x => settings.Enum<IntegrationKind>($"Backbone:Integrations:Sources:{x.Key}"), StringComparer.Ordinal));
    }
}
