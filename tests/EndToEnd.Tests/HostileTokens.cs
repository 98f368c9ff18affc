using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// JWTs built by hand, so a test can forge exactly the token it wants — alg none, the wrong key, a missing claim —
/// which a JWT library would refuse to produce.
/// </summary>
public static class HostileTokens
{
    public const string Issuer = "eventbackbone";
    public const string Audience = "eventbackbone-api";

    /// <summary>The claims the API expects: issuer, audience, subject, scope and a lifetime around now.</summary>
    public static Dictionary<string, object> Claims(string subject, string scope, DateTimeOffset? now = null)
    {
        var at = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        return new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["aud"] = Audience,
            ["sub"] = subject,
            ["scope"] = scope,
            ["iat"] = at,
            ["nbf"] = at - 5,
            ["exp"] = at + 600,
        };
    }

    /// <summary>HS256 over <c>header.payload</c> with <paramref name="key"/>.</summary>
    public static string Hs256(string key, IReadOnlyDictionary<string, object> claims, IReadOnlyDictionary<string, object>? header = null)
    {
        var signingInput = $"{Segment(header ?? new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT" })}.{Segment(claims)}";
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.ASCII.GetBytes(signingInput));
        return $"{signingInput}.{Base64Url(signature)}";
    }

    /// <summary>The classic forgery: <c>"alg":"none"</c> and an empty signature.</summary>
    public static string Unsigned(IReadOnlyDictionary<string, object> claims, string alg = "none") =>
        $"{Segment(new Dictionary<string, object> { ["alg"] = alg, ["typ"] = "JWT" })}.{Segment(claims)}.";

    public static string Segment(object value) => Base64Url(JsonSerializer.SerializeToUtf8Bytes(value));

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
