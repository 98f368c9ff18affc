using System.Security.Cryptography;
using System.Text;
using EventBackbone.Ingestion.Api.Webhooks.Signatures;

namespace EventBackbone.Ingestion.Api.Tests.Signatures;

/// <summary>
/// Known-answer vectors published by the schemes' authors (../shared/testdata/webhooks.md): each is accepted exactly
/// as given and refused after any one-byte change.
/// </summary>
public sealed class SignatureSchemeSpecs
{
    private static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(300);

    // Standard Webhooks v1 official vector.
    private const string StandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string StandardId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const string StandardTimestamp = "1614265330";
    private const string StandardBody = """{"test": 2432232314}""";
    private const string StandardSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    private static readonly DateTimeOffset StandardNow = DateTimeOffset.FromUnixTimeSeconds(1614265330);

    // GitHub's documented vector.
    private const string GitHubSecret = "It's a Secret to Everybody";
    private const string GitHubBody = "Hello, World!";
    private const string GitHubSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    [Fact]
    public void The_standard_webhooks_vector_is_accepted_with_its_id_as_dedupe_key()
    {
        var result = Standard(StandardId, StandardTimestamp, StandardBody, StandardSignature, StandardNow, StandardSecret);

        Assert.True(result.IsValid);
        Assert.Equal(StandardId, result.DedupeKey);
    }

    [Theory]
    [InlineData("id")]
    [InlineData("timestamp")]
    [InlineData("body")]
    [InlineData("signature")]
    public void The_standard_webhooks_vector_is_refused_after_a_one_byte_change(string part)
    {
        var id = part == "id" ? FlipLast(StandardId) : StandardId;
        var timestamp = part == "timestamp" ? "1614265331" : StandardTimestamp;
        var body = part == "body" ? FlipLast(StandardBody) : StandardBody;
        var signature = part == "signature" ? StandardSignature.Replace("g0hM", "g0hN", StringComparison.Ordinal) : StandardSignature;

        var result = Standard(id, timestamp, body, signature, StandardNow, StandardSecret);

        Assert.Equal(SignatureFailure.Signature, result.Failure);
    }

    [Theory]
    [InlineData(-300, true)]
    [InlineData(300, true)]
    [InlineData(-301, false)]
    [InlineData(301, false)]
    public void The_standard_webhooks_timestamp_is_accepted_within_300_seconds_either_way(int offsetSeconds, bool accepted)
    {
        var result = Standard(StandardId, StandardTimestamp, StandardBody, StandardSignature, StandardNow.AddSeconds(offsetSeconds), StandardSecret);

        Assert.Equal(accepted ? SignatureFailure.None : SignatureFailure.Timestamp, result.Failure);
    }

    [Fact]
    public void During_rotation_both_the_old_and_the_new_secret_verify()
    {
        var newSecret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        var signedWithNew = "v1," + Convert.ToBase64String(HMACSHA256.HashData(
            Convert.FromBase64String(newSecret[6..]), Encoding.UTF8.GetBytes($"{StandardId}.{StandardTimestamp}.{StandardBody}")));

        Assert.True(Standard(StandardId, StandardTimestamp, StandardBody, StandardSignature, StandardNow, newSecret, StandardSecret).IsValid);
        Assert.True(Standard(StandardId, StandardTimestamp, StandardBody, signedWithNew, StandardNow, newSecret, StandardSecret).IsValid);
        Assert.False(Standard(StandardId, StandardTimestamp, StandardBody, signedWithNew, StandardNow, StandardSecret).IsValid);
        // A sender signing with both secrets at once (space-separated) verifies against either.
        Assert.True(Standard(StandardId, StandardTimestamp, StandardBody, $"{signedWithNew} {StandardSignature}", StandardNow, StandardSecret).IsValid);
    }

    [Fact]
    public void The_github_vector_is_accepted_with_delivery_id_and_event_name()
    {
        var result = GitHub(GitHubBody, GitHubSignature, GitHubSecret);

        Assert.True(result.IsValid);
        Assert.Equal("delivery-1", result.DedupeKey);
        Assert.Equal("push", result.EventType);
    }

    [Theory]
    [InlineData("body")]
    [InlineData("signature")]
    [InlineData("secret")]
    public void The_github_vector_is_refused_after_a_one_byte_change(string part)
    {
        var body = part == "body" ? FlipLast(GitHubBody) : GitHubBody;
        var signature = part == "signature" ? GitHubSignature[..^1] + "8" : GitHubSignature;
        var secret = part == "secret" ? FlipLast(GitHubSecret) : GitHubSecret;

        Assert.Equal(SignatureFailure.Signature, GitHub(body, signature, secret).Failure);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]
    [InlineData("sha256=not-hex")]
    public void A_missing_or_malformed_github_signature_is_refused(string? signature)
    {
        Assert.Equal(SignatureFailure.Signature, GitHub(GitHubBody, signature, GitHubSecret).Failure);
    }

    [Fact]
    public void A_stripe_signature_over_timestamp_and_body_verifies_and_a_stale_one_is_a_timestamp_failure()
    {
        const string secret = "whsec_stripe_test_secret";
        const string body = """{"id":"evt_1","type":"invoice.paid"}""";
        var now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        var header = $"t=1700000000,v1={Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"1700000000.{body}")))}";
        var scheme = new StripeScheme();
        WebhookRequest Request(string signature, string payload) => new(name => name == "Stripe-Signature" ? signature : null, Encoding.UTF8.GetBytes(payload));

        Assert.True(scheme.Verify(Request(header, body), [secret], now, Tolerance).IsValid);
        Assert.Equal(SignatureFailure.Signature, scheme.Verify(Request(header, FlipLast(body)), [secret], now, Tolerance).Failure);
        Assert.Equal(SignatureFailure.Signature, scheme.Verify(Request(header.Replace("t=1700000000", "t=1700000001", StringComparison.Ordinal), body), [secret], now, Tolerance).Failure);
        Assert.Equal(SignatureFailure.Timestamp, scheme.Verify(Request(header, body), [secret], now.AddSeconds(301), Tolerance).Failure);
    }

    [Theory]
    [InlineData(SignatureEncoding.Hex, "sha256=")]
    [InlineData(SignatureEncoding.Base64, "")]
    public void The_generic_hmac_scheme_reads_its_configured_header_encoding_and_prefix(SignatureEncoding encoding, string prefix)
    {
        const string secret = "generic-secret";
        var body = Encoding.UTF8.GetBytes("""{"hello":"world"}""");
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body);
        var signature = prefix + (encoding == SignatureEncoding.Hex ? Convert.ToHexStringLower(mac) : Convert.ToBase64String(mac));
        var scheme = new GenericHmacScheme("X-Signature", encoding, prefix);

        Assert.True(scheme.Verify(new WebhookRequest(n => n == "X-Signature" ? signature : null, body), [secret], DateTimeOffset.UtcNow, Tolerance).IsValid);
        body[^2] ^= 1;
        Assert.False(scheme.Verify(new WebhookRequest(n => n == "X-Signature" ? signature : null, body), [secret], DateTimeOffset.UtcNow, Tolerance).IsValid);
    }

    private static SignatureVerification Standard(string id, string timestamp, string body, string signature, DateTimeOffset now, params string[] secrets) =>
        new StandardWebhooksScheme().Verify(
            new WebhookRequest(
                name => name switch
                {
                    "webhook-id" => id,
                    "webhook-timestamp" => timestamp,
                    "webhook-signature" => signature,
                    _ => null,
                },
                Encoding.UTF8.GetBytes(body)),
            secrets,
            now,
            Tolerance);

    private static SignatureVerification GitHub(string body, string? signature, string secret) =>
        new GitHubScheme().Verify(
            new WebhookRequest(
                name => name switch
                {
                    "X-Hub-Signature-256" => signature,
                    "X-GitHub-Delivery" => "delivery-1",
                    "X-GitHub-Event" => "push",
                    _ => null,
                },
                Encoding.UTF8.GetBytes(body)),
            [secret],
            DateTimeOffset.UtcNow,
            Tolerance);

    private static string FlipLast(string value) => value[..^1] + (char)(value[^1] ^ 1);
}
