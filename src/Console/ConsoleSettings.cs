using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Console;

/// <summary>Where the console runs: its own host (distributed), or inside the embedded one-process host.</summary>
public enum ConsoleHosting
{
    Distributed,
    Embedded,
}

/// <summary>How an operator signs in without an identity provider; <see cref="None"/> outside Development and embedded mode.</summary>
internal enum DevSignIn
{
    None,

    /// <summary>Development: the operator pastes a token (e.g. from <c>dev-token</c>).</summary>
    PasteToken,

    /// <summary>Embedded: paste, or let the host mint one with its dev signing key.</summary>
    PasteOrMint,
}

/// <summary>The <c>Backbone:Console</c> section, checked before the host starts.</summary>
/// <param name="TrustedProxies">
/// Proxies (e.g. the ingress that terminates TLS) whose <c>X-Forwarded-Proto</c> and <c>X-Forwarded-For</c> are
/// believed; empty by default, when the console takes every request as it arrives.
/// </param>
internal sealed record ConsoleSettings(
    Uri FrontDoor, Uri? Authority, string? ClientId, string? ClientSecret, IReadOnlyList<string> Scopes, DevSignIn DevSignIn, bool SecureCookies,
    IReadOnlyList<System.Net.IPNetwork> TrustedProxies)
{
    public const string Section = "Backbone:Console";

    /// <summary>What the console asks the identity provider for: enough to show, and be refused, every screen.</summary>
    public static readonly IReadOnlyList<string> DefaultScopes =
        ["openid", "profile", "dead-letters:read", "dead-letters:replay", "dead-letters:edit", "dead-letters:delete", "reports:read", "signups:read"];

    public static ConsoleSettings Load(IConfiguration configuration, IHostEnvironment environment, ConsoleHosting hosting)
    {
        var settings = new SettingsReader(configuration);
        var embedded = hosting == ConsoleHosting.Embedded;
        var frontDoor = settings.AbsoluteUri($"{Section}:FrontDoor")
            ?? (embedded ? OwnAddress(settings) : null)
            ?? throw new InvalidSettingException(
                $"{Section}:FrontDoor",
                "is required: the absolute URL of the front door (Ingestion.Api) the console calls the APIs through, e.g. http://ingestion-api:5080.");
        if (frontDoor.Scheme != Uri.UriSchemeHttp && frontDoor.Scheme != Uri.UriSchemeHttps)
        {
            throw new InvalidSettingException($"{Section}:FrontDoor", $"'{frontDoor}' is not an http or https URL.");
        }

        // The same key the services validate tokens against; https is enforced there (BackboneAuthSettings).
        var authority = settings.AbsoluteUri("Backbone:Auth:Authority");
        var clientId = settings.Optional($"{Section}:ClientId");
        if (authority is not null && clientId is null)
        {
            throw new InvalidSettingException($"{Section}:ClientId", "is required with Backbone:Auth:Authority: the console's client id at the identity provider.");
        }

        var devSignIn = embedded ? DevSignIn.PasteOrMint : environment.IsDevelopment() ? DevSignIn.PasteToken : DevSignIn.None;
        if (authority is null && devSignIn == DevSignIn.None)
        {
            // Without either, nobody could sign in: better a refusal at start than a console that only says 401.
            throw new InvalidSettingException(
                "Backbone:Auth:Authority",
                "is required for the console outside Development and embedded mode: operators sign in with OpenID Connect there.");
        }

        var scopes = settings.Optional($"{Section}:Scopes")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [.. DefaultScopes];
        return new ConsoleSettings(
            frontDoor, authority, clientId, settings.Optional($"{Section}:ClientSecret"), scopes, devSignIn,
            SecureCookies: !embedded && !environment.IsDevelopment(), settings.Networks($"{Section}:TrustedProxies"));
    }

    /// <summary>Embedded: the front door is this very process, at the first address it listens on.</summary>
    private static Uri? OwnAddress(SettingsReader settings)
    {
        var first = settings.Optional("Urls")?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (first is null)
        {
            return null;
        }

        // A wildcard host is where Kestrel listens, not an address anyone can call.
        var callable = first.Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://+", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal);
        return Uri.TryCreate(callable, UriKind.Absolute, out var uri) ? uri : null;
    }
}
