using System.Text;

namespace EventBackbone.Ingestion.Api.Webhooks.Signatures;

/// <summary>
/// GitHub: <c>X-Hub-Signature-256: sha256=&lt;hex HMAC-SHA256(secret, body)&gt;</c>. There is no timestamp, so the
/// delivery id (<c>X-GitHub-Delivery</c>, kept across redeliveries) is the replay guard; the event name comes from
/// <c>X-GitHub-Event</c>.
/// </summary>
public sealed class GitHubScheme : IWebhookSignatureScheme
{
    private const string Prefix = "sha256=";

    public bool SignsTimestamp => false;

    public string? SecretProblem(string secret) => null;

    public SignatureVerification Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        var header = request.Header("X-Hub-Signature-256");
        if (header is null || !header.StartsWith(Prefix, StringComparison.Ordinal) || Hmac.FromHex(header[Prefix.Length..]) is not { } presented)
        {
            return SignatureVerification.Refused(SignatureFailure.Signature);
        }

        var matched = false;
        foreach (var secret in secrets)
        {
            matched |= Hmac.Matches(Hmac.Sha256(Encoding.UTF8.GetBytes(secret), request.Body.Span), presented);
        }

        return matched
            ? new SignatureVerification(SignatureFailure.None, request.Header("X-GitHub-Delivery"), request.Header("X-GitHub-Event"))
            : SignatureVerification.Refused(SignatureFailure.Signature);
    }

    public bool TryReadDedupeKey(SignatureVerification verified, ReadOnlySpan<byte> body, out string? dedupeKey)
    {
        dedupeKey = verified.DedupeKey;
        return true;
    }
}
