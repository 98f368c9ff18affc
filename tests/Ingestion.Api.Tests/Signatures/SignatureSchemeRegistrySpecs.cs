using System.Security.Cryptography;
using System.Text;
using EventBackbone.Ingestion.Api.Webhooks;
using EventBackbone.Ingestion.Api.Webhooks.Signatures;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Tests.Signatures;

/// <summary>
/// Every scheme in <see cref="WebhookSignatureSchemes"/>, as a source configured with it: it starts with a secret of
/// its kind and verifies a request signed the way its senders sign. A scheme added to the registry without a signer
/// here fails, so a new scheme is covered by the line that adds its signer.
/// </summary>
public sealed class SignatureSchemeRegistrySpecs
{
    private const string Source = "Backbone:Ingestion:Sources:partner";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"id":"evt_1","type":"ping"}""");

    /// <summary>How a sender of each scheme signs: a secret of the scheme's kind, the source's extra settings, the signed headers.</summary>
    private static readonly Dictionary<string, Signer> Signers = new(StringComparer.Ordinal)
    {
        ["StandardWebhooks"] = new(
            "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)),
            [],
            (secret, body) => new()
            {
                ["webhook-id"] = "msg_1",
                ["webhook-timestamp"] = "1700000000",
                ["webhook-signature"] = "v1," + Convert.ToBase64String(
                    HMACSHA256.HashData(Convert.FromBase64String(secret[6..]), Encoding.UTF8.GetBytes("msg_1.1700000000.").Concat(body).ToArray())),
            }),
        ["GitHub"] = new(
            "github-secret",
            [],
            (secret, body) => new() { ["X-Hub-Signature-256"] = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body)) }),
        ["Stripe"] = new(
            "whsec_stripe_secret",
            [],
            (secret, body) => new()
            {
                ["Stripe-Signature"] = "t=1700000000,v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes("1700000000.").Concat(body).ToArray())),
            }),
        ["Hmac"] = new(
            "hmac-secret",
            [new("Header", "X-Signature")],
            (secret, body) => new() { ["X-Signature"] = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body)) }),
    };

    public static TheoryData<string> RegisteredSchemes() => [.. WebhookSignatureSchemes.All.Select(x => x.Name)];

    [Theory]
    [MemberData(nameof(RegisteredSchemes))]
    public void A_registered_scheme_starts_with_a_secret_of_its_kind_and_verifies_what_its_senders_sign(string name)
    {
        Assert.True(Signers.TryGetValue(name, out var signer), $"{name} is registered but has no signer in {nameof(Signers)}: add how its senders sign.");
        var scheme = WebhookIngestionSettings.Load(Configuration(name, signer.Secret, signer.Settings)).Sources["partner"].Scheme;
        var headers = signer.Sign(signer.Secret, Body);

        var verified = scheme.Verify(Request(headers, Body), [signer.Secret], Now, TimeSpan.FromSeconds(300));
        var tampered = scheme.Verify(Request(headers, [.. Body[..^1], (byte)'x']), [signer.Secret], Now, TimeSpan.FromSeconds(300));

        Assert.True(verified.IsValid, $"{name} refused its own sender's signature: {verified.Failure}");
        Assert.True(scheme.TryReadDedupeKey(verified, Body, out _));
        Assert.Equal(SignatureFailure.Signature, tampered.Failure);
    }

    [Fact]
    public void An_unknown_scheme_stops_the_host_naming_the_key_and_every_registered_scheme()
    {
        var refused = Assert.Throws<InvalidSettingException>(() => WebhookIngestionSettings.Load(Configuration("Kafka", "secret", [])));

        Assert.Equal(
            $"Invalid setting {Source}:Scheme: 'Kafka' is not one of {string.Join(", ", WebhookSignatureSchemes.All.Select(x => x.Name))}.",
            refused.Message);
    }

    [Fact]
    public void A_secret_the_scheme_cannot_use_stops_the_host_at_start()
    {
        var refused = Assert.Throws<InvalidSettingException>(() => WebhookIngestionSettings.Load(Configuration("StandardWebhooks", "whsec_not base64!", [])));

        Assert.Equal($"Invalid setting {Source}:Secrets: Standard Webhooks secrets are whsec_ followed by base64.", refused.Message);
    }

    [Fact]
    public void Only_stripe_reads_its_delivery_id_from_the_verified_body()
    {
        var verified = new SignatureVerification(SignatureFailure.None, DedupeKey: "from-header");

        Assert.True(new StripeScheme().TryReadDedupeKey(verified, Body, out var stripe));
        Assert.True(new GitHubScheme().TryReadDedupeKey(verified, Body, out var github));
        Assert.False(new StripeScheme().TryReadDedupeKey(verified, """{"id":"\ud800"}"""u8, out _));
        Assert.Equal("evt_1", stripe);
        Assert.Equal("from-header", github);
    }

    private static WebhookRequest Request(Dictionary<string, string> headers, byte[] body) =>
        new(name => headers.FirstOrDefault(x => string.Equals(x.Key, name, StringComparison.OrdinalIgnoreCase)).Value, body);

    private static IConfiguration Configuration(string scheme, string secret, IEnumerable<KeyValuePair<string, string>> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(
            new Dictionary<string, string?>
            {
                [$"{Source}:Scheme"] = scheme,
                [$"{Source}:Secrets:0"] = secret,
            }.Concat(settings.Select(x => new KeyValuePair<string, string?>($"{Source}:{x.Key}", x.Value)))).Build();

    private sealed record Signer(string Secret, KeyValuePair<string, string>[] Settings, Func<string, byte[], Dictionary<string, string>> Sign);
}
