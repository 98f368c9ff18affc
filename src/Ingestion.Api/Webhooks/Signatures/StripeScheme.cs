using System.Text;
using System.Text.Json;

namespace EventBackbone.Ingestion.Api.Webhooks.Signatures;

/// <summary>
/// Stripe: <c>Stripe-Signature: t=&lt;unix&gt;,v1=&lt;hex&gt;[,v1=…]</c> over <c>t.body</c>, keyed with the whole
/// <c>whsec_…</c> string as UTF-8. The dedupe key is the body's <c>id</c>: there is no delivery id in a header.
/// </summary>
public sealed class StripeScheme : IWebhookSignatureScheme
{
    public bool SignsTimestamp => true;

    public string? SecretProblem(string secret) => null;

    public SignatureVerification Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        var header = request.Header("Stripe-Signature");
        if (string.IsNullOrEmpty(header))
        {
            return SignatureVerification.Refused(SignatureFailure.Signature);
        }

        string? timestamp = null;
        var presented = new List<byte[]>();
        foreach (var part in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.StartsWith("t=", StringComparison.Ordinal))
            {
                timestamp = part[2..];
            }
            else if (part.StartsWith("v1=", StringComparison.Ordinal) && Hmac.FromHex(part[3..]) is { } signature)
            {
                presented.Add(signature);
            }
        }

        if (!Hmac.IsTimely(timestamp, now, tolerance))
        {
            return SignatureVerification.Refused(presented.Count == 0 ? SignatureFailure.Signature : SignatureFailure.Timestamp);
        }

        var matched = false;
        foreach (var secret in secrets)
        {
            var expected = Hmac.Sha256(Encoding.UTF8.GetBytes(secret), $"{timestamp}.", request.Body.Span);
            foreach (var signature in presented)
            {
                matched |= Hmac.Matches(expected, signature);
            }
        }

        return matched ? new SignatureVerification(SignatureFailure.None) : SignatureVerification.Refused(SignatureFailure.Signature);
    }

    /// <summary>The event's top-level <c>"id"</c>, readable only now that the body is verified and known to be JSON.</summary>
    public bool TryReadDedupeKey(SignatureVerification verified, ReadOnlySpan<byte> body, out string? dedupeKey)
    {
        dedupeKey = null;
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("id", out var value) || value.ValueKind != JsonValueKind.String)
        {
            return true;
        }

        try
        {
            dedupeKey = value.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            // An escaped lone surrogate: valid JSON that no .NET string can hold.
            return false;
        }
    }
}
