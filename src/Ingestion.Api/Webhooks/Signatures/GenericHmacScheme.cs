using System.Text;
using EventBackbone.ServiceDefaults.Settings;

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
    /// <summary><c>…:Header</c> (required), <c>…:Encoding</c> (Hex | Base64), <c>…:Prefix</c> and <c>…:DedupeHeader</c> of one source.</summary>
    internal static GenericHmacScheme FromSettings(SettingsReader settings, string sourceName) => new(
        settings.Required($"{WebhookIngestionSettings.SourcesSection}:{sourceName}:Header", "the header that carries the signature"),
        settings.Enum($"{WebhookIngestionSettings.SourcesSection}:{sourceName}:Encoding", SignatureEncoding.Hex),
        settings.String($"{WebhookIngestionSettings.SourcesSection}:{sourceName}:Prefix", ""),
        settings.Optional($"{WebhookIngestionSettings.SourcesSection}:{sourceName}:DedupeHeader"));

    public bool SignsTimestamp => false;

    public string? SecretProblem(string secret) => null;

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

    public bool TryReadDedupeKey(SignatureVerification verified, ReadOnlySpan<byte> body, out string? dedupeKey)
    {
        dedupeKey = verified.DedupeKey;
        return true;
    }
}
