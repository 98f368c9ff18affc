using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EventBackbone.ServiceDefaults.Authentication;

/// <summary>
/// <c>dev-token [--scope S]… [--subject NAME] [--minutes N]</c>: prints a bearer token signed with this host's first
/// configured signing key, for trying the API locally. It refuses when no key is configured, so it only works where a
/// development configuration put one.
/// </summary>
public static class DevTokens
{
    public const string Command = "dev-token";

    public static string Mint(BackboneAuthSettings auth, string subject, IEnumerable<string> scopes, TimeSpan lifetime, DateTime now)
    {
        if (auth.SigningKeys.Count == 0)
        {
            throw new InvalidOperationException($"No {BackboneAuthSettings.Section}:SigningKeys are configured, so no token can be minted here.");
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = auth.Issuer,
            Audience = auth.Audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("scope", string.Join(' ', scopes))]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            SigningCredentials = new SigningCredentials(auth.SigningKeys[0], SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    /// <returns>The process exit code.</returns>
    public static int Run(IReadOnlyList<string> args, BackboneAuthSettings auth, TextWriter output, TextWriter error)
    {
        var scopes = new List<string>();
        var subject = "dev";
        var minutes = 60;
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--scope" when value is not null:
                    scopes.AddRange(value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries));
                    i++;
                    break;
                case "--subject" when value is not null:
                    subject = value;
                    i++;
                    break;
                case "--minutes" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed is > 0 and <= 24 * 60:
                    minutes = parsed;
                    i++;
                    break;
                default:
                    error.WriteLine($"usage: {Command} [--scope SCOPE]... [--subject NAME] [--minutes 1-1440]   (unexpected '{args[i]}')");
                    return 2;
            }
        }

        try
        {
            output.WriteLine(Mint(auth, subject, scopes, TimeSpan.FromMinutes(minutes), DateTime.UtcNow));
            return 0;
        }
        catch (InvalidOperationException missingKey)
        {
            error.WriteLine(missingKey.Message);
            return BackboneHost.InvalidSettingExitCode;
        }
    }
}
