using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace EventBackbone.ServiceDefaults.Authentication;

/// <summary>
/// Signing keys anyone could know. With one of them anyone can mint a token with every scope, so a host outside embedded
/// mode refuses to start with it: the failure this prevents is a deployment that kept the manifest's placeholder, or
/// copied a key from a test, and accepts tokens from whoever has read the repository.
/// </summary>
internal static partial class PublicSigningKeys
{
    /// <summary>
    /// SHA-256 (hex, of the UTF-8 bytes) of every key the repository has ever contained: the embedded dev key, the
    /// compose and Kubernetes placeholders, and the fixed keys tests and benchmarks used before they generated theirs at
    /// run time. Hashes, so this file is not itself a list of keys to try. A key written into the repository later is
    /// caught by Deployment.Tests' SigningKeySpecs, which asks <see cref="BackboneAuthSettings.Load"/> about each one.
    /// </summary>
    private static readonly HashSet<string> PublishedHashes = new(StringComparer.Ordinal)
    {
        "6dcf075698fe5d69fd3ea44aca3755797baf286d9695ce4eb4c977fa2ce65bc0",
        "55a9751cc18866f3263fad0eed7cfee62de70d5fa845d1598dafb5dc385e7db4",
        "a092c20f5212fdc36a42ec02b5b3db626b382d3fa4a3c8f9dbc633df01fcd078",
        "c77b5c87e043c695b092db109a311c12b651b0745eafae319a2f5b206916b8f4",
        "b105914e91fdb4de2414d45a246bc886ddd27b04ad2c5d235ff4b7a79cbeb28e",
        "045c31bf4990e36add727a57492eaa2c55350306312b1f45ab86f095c4b74efb",
        "84cd45ecfbe0c8bca1c93199bdfae455d5a198906e756782c465ad4f639b41fa",
        "42cd484461e141ff95615f63aa5ed5ec6869e1f4bfe803e8d4289f3ee914e639",
        "a428c4ce681ec3038a350b1bb0a5632936505a2d913111d8d8b5d197660d9901",
        "ee348836d9c33ba51331e1d85f9c08df81f82b18ea362597705491b794b0eb58",
        "b204cd52b83304431b7621acc3be005929d34852d8d34a69d13fce9ddfaa7e94",
        "f5ab42711ca6601c62eac588a29584b008fefaed7268d84d40eaa790585b1a35",
    };

    /// <summary>
    /// Words a key written by hand to be replaced says about itself. Matched case-insensitively as whole words, the
    /// key's letters split at every non-letter ("K8s-PlaceHolder_key" has the words k, s, placeholder, key): a random
    /// base64 key contains one of these as a whole word only rarely (then generate another), and a hex key
    /// (<c>openssl rand -hex 32</c>) never does, since each word has a letter beyond a–f.
    /// </summary>
    private static readonly string[] PlaceholderWords =
    [
        "placeholder", "change me", "changeme", "change this", "replace me", "replaceme", "your", "todo",
        "example", "sample", "dummy", "fake", "default", "password", "secret", "insecure", "not for production",
        "dev", "development", "test", "tests", "testing",
    ];

    /// <summary>Why <paramref name="key"/> is one anyone could know, or null when it is not known to be.</summary>
    public static string? WhyPublic(string key)
    {
        if (key == BackboneAuthSettings.PublishedDevKey)
        {
            return "is the published development key";
        }

        if (PublishedHashes.Contains(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))))
        {
            return "has been published in this product's repository";
        }

        var words = $" {string.Join(' ', Letters().Matches(key.ToLowerInvariant()).Select(x => x.Value))} ";
        return PlaceholderWords.FirstOrDefault(word => words.Contains($" {word} ", StringComparison.Ordinal)) is { } placeholder
            ? $"says it is a placeholder (the word '{placeholder}')"
            : null;
    }

    [GeneratedRegex("[a-z]+")]
    private static partial Regex Letters();
}
