using System.Text;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.IdentityModel.Tokens;

namespace EventBackbone.ServiceDefaults.Authentication;

/// <summary>
/// The <c>Backbone:Auth</c> section: who may issue bearer tokens to this service. <c>Issuer</c> and <c>Audience</c>
/// (defaults <c>eventbackbone</c> / <c>eventbackbone-api</c>), then either <c>Authority</c> (production: an OpenID
/// Connect issuer whose JWKS is fetched and refreshed) or <c>SigningKeys:0</c>, <c>SigningKeys:1</c>… (symmetric
/// HS256 keys of at least 32 bytes; several at once while rotating). With neither, every token is refused. Outside
/// embedded mode a key anyone could know (<see cref="PublicSigningKeys"/>) and a plain-HTTP authority stop the host.
/// </summary>
public sealed record BackboneAuthSettings(
    string Issuer, string Audience, Uri? Authority, IReadOnlyList<SymmetricSecurityKey> SigningKeys)
{
    /// <summary>
    /// The key the embedded default ships with and README prints. Anyone can mint tokens with it, so a host refuses
    /// to start with it outside embedded mode: the failure it prevents is a production deployment copying the dev
    /// configuration and accepting tokens from the internet.
    /// </summary>
    public const string PublishedDevKey = "eventbackbone-dev-signing-key-not-for-production";

    public const string Section = "Backbone:Auth";

    public bool CanValidateTokens => Authority is not null || SigningKeys.Count > 0;

    public static BackboneAuthSettings Load(IConfiguration configuration, bool embedded)
    {
        var settings = new SettingsReader(configuration);
        var keys = new List<SymmetricSecurityKey>();
        foreach (var entry in configuration.GetSection($"{Section}:SigningKeys").GetChildren())
        {
            // The entry's own path: SigningKeys:1 alone is named as :1, not as the first key.
            var key = entry.Path;
            var raw = entry.Value;
            if (string.IsNullOrWhiteSpace(raw))
            {
                continue;
            }

            // Refused rather than trimmed, and checked before the public-key check: a key file written by `echo` or
            // mounted with `kubectl create secret --from-file` ends in a newline, so a published key plus "\n" hashes
            // differently and would pass that check, while an attacker need only try the published key plus "\n".
            // Trimming instead would sign with other bytes than an issuer reading the same file, and every token would
            // fail validation for no visible reason.
            if (!embedded && raw.Length != raw.Trim().Length)
            {
                throw new InvalidSettingException(
                    key,
                    "a signing key must not begin or end with whitespace (often a newline left by `echo` or a key file); remove it.");
            }

            var bytes = Encoding.UTF8.GetBytes(raw);
            if (bytes.Length < 32)
            {
                // HS256 with a short key is brute-forceable; RFC 7518 §3.2 requires at least the hash size.
                throw new InvalidSettingException(key, "a signing key must be at least 32 bytes.");
            }

            // Embedded mode is one process on a developer's machine, whose shipped configuration is the dev key.
            if (!embedded && PublicSigningKeys.WhyPublic(raw) is { } known)
            {
                throw new InvalidSettingException(
                    key,
                    $"{known}; anyone can mint tokens with it, so it is accepted only in embedded mode. Generate one, e.g. `openssl rand -hex 32`.");
            }

            keys.Add(new SymmetricSecurityKey(bytes) { KeyId = $"key-{keys.Count}" });
        }

        return new BackboneAuthSettings(
            settings.String($"{Section}:Issuer", "eventbackbone"),
            settings.String($"{Section}:Audience", "eventbackbone-api"),
            TrustedAuthority(settings, embedded),
            keys);
    }

    /// <summary>
    /// Outside embedded mode only an https authority, unless <c>AllowInsecureAuthority</c> says otherwise: the JWKS
    /// fetched from it decides which tokens are genuine, and over plain HTTP anyone on the path can replace those keys
    /// with their own and mint tokens with every scope.
    /// </summary>
    private static Uri? TrustedAuthority(SettingsReader settings, bool embedded)
    {
        var allowInsecure = settings.Bool($"{Section}:AllowInsecureAuthority", defaultValue: false);
        var authority = settings.AbsoluteUri($"{Section}:Authority");
        if (authority is not null && authority.Scheme != Uri.UriSchemeHttps && !embedded && !allowInsecure)
        {
            throw new InvalidSettingException(
                $"{Section}:Authority",
                $"'{authority}' is not https, so the signing keys fetched from it could be replaced on the way; use https, "
                + $"or set {Section}:AllowInsecureAuthority to true (e.g. TLS ends at a proxy in front of the identity provider).");
        }

        return authority;
    }
}
