using System.Text;

namespace EventBackbone.Ingestion.Api.Webhooks.Signatures;

public enum SignatureEncoding
{
    Hex,
    Base64,
}

/// <summary>
/// HMAC-SHA256 of the raw body in a configured header, hex or base64, after an optional prefix (e.g. <c>sha256=</c>);
/// the sender's delivery id, when it sends one, is read from <paramref name="dedupeHeader"/>.
/// </summary>
public sealed class GenericHmacScheme(string header, SignatureEncoding encoding, string prefix, string? dedupeHeader = null) : IWebhookSignatureScheme
{
    public bool SignsTimestamp => false;

    public SignatureVerification Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        var value = request.Header(header);
        if (value is null || !value.StartsWith(prefix, StringComparison.Ordinal))
        {
            return SignatureVerification.Refused(SignatureFailure.Signature);
        }

        var encoded = value[prefix.Length..];
        var presented = encoding == SignatureEncoding.Hex ? Hmac.FromHex(encoded) : Hmac.FromBase64(encoded);
        if (presented is null)
        {
            return SignatureVerification.Refused(SignatureFailure.Signature);
        }

        var matched = false;
        foreach (var secret in secrets)
        {
            matched |= Hmac.Matches(Hmac.Sha256(Encoding.UTF8.GetBytes(secret), request.Body.Span), presented);
        }

        return matched
            ? new SignatureVerification(SignatureFailure.None, dedupeHeader is null ? null : request.Header(dedupeHeader))
            : SignatureVerification.Refused(SignatureFailure.Signature);
    }
}
