namespace EventBackbone.Ingestion.Api.Webhooks.Signatures;

/// <summary>
/// Standard Webhooks v1: <c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c> = space-separated
/// <c>v1,&lt;base64 HMAC-SHA256(id.timestamp.body)&gt;</c>, keyed with the base64-decoded <c>whsec_</c> secret.
/// </summary>
public sealed class StandardWebhooksScheme : IWebhookSignatureScheme
{
    private const string SecretPrefix = "whsec_";

    public bool SignsTimestamp => true;

    public string? SecretProblem(string secret) =>
        Key(secret) is null ? "Standard Webhooks secrets are whsec_ followed by base64." : null;

    public SignatureVerification Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        var id = request.Header("webhook-id");
        var timestamp = request.Header("webhook-timestamp");
        var signatures = request.Header("webhook-signature");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(signatures))
        {
            return SignatureVerification.Refused(SignatureFailure.Signature);
        }

        if (!Hmac.IsTimely(timestamp, now, tolerance))
        {
            return SignatureVerification.Refused(SignatureFailure.Timestamp);
        }

        var presented = signatures.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(x => x.StartsWith("v1,", StringComparison.Ordinal))
            .Select(x => Hmac.FromBase64(x[3..]))
            .OfType<byte[]>()
            .ToList();
        var signedPrefix = $"{id}.{timestamp}.";
        foreach (var secret in secrets)
        {
            var key = Key(secret);
            if (key is null)
            {
                continue;
            }

            var expected = Hmac.Sha256(key, signedPrefix, request.Body.Span);
            // Every candidate is compared: the time taken does not depend on which one matches.
            var matched = false;
            foreach (var signature in presented)
            {
                matched |= Hmac.Matches(expected, signature);
            }

            if (matched)
            {
                return new SignatureVerification(SignatureFailure.None, DedupeKey: id);
            }
        }

        return SignatureVerification.Refused(SignatureFailure.Signature);
    }

    public bool TryReadDedupeKey(SignatureVerification verified, ReadOnlySpan<byte> body, out string? dedupeKey)
    {
        dedupeKey = verified.DedupeKey;
        return true;
    }

    /// <summary>The base64 after <c>whsec_</c>; a secret that does not decode verifies nothing (a misconfiguration, not a key).</summary>
    private static byte[]? Key(string secret) =>
        Hmac.FromBase64(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret);
}
