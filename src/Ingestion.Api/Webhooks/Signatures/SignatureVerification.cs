namespace EventBackbone.Ingestion.Api.Webhooks.Signatures;

/// <summary>Why a webhook was refused. Deliberately coarse: a sender learns "signature" or "timestamp", never which byte.</summary>
public enum SignatureFailure
{
    None,
    Signature,
    Timestamp,
}

/// <summary>The outcome of verifying one webhook, and what the scheme says about it once verified.</summary>
/// <param name="DedupeKey">The sender's id for this delivery (kept across its redeliveries), when the scheme has one.</param>
/// <param name="EventType">The sender's event name, when the scheme carries one outside the body.</param>
public sealed record SignatureVerification(SignatureFailure Failure, string? DedupeKey = null, string? EventType = null)
{
    public bool IsValid => Failure == SignatureFailure.None;

    public static SignatureVerification Refused(SignatureFailure failure) => new(failure);
}

/// <summary>The raw request as a scheme needs it: headers by name (case-insensitive) and the exact body bytes.</summary>
public sealed record WebhookRequest(Func<string, string?> Header, ReadOnlyMemory<byte> Body);

/// <summary>
/// One way senders sign webhooks. Verifies the raw bytes before anything parses them, in constant time. A new scheme is
/// this interface in one file plus one line in <see cref="WebhookSignatureSchemes"/>; the settings loader and the
/// endpoint ask only this interface.
/// </summary>
public interface IWebhookSignatureScheme
{
    /// <summary>
    /// Whether the signature covers a timestamp checked against the source's tolerance. Without one, a captured body
    /// and signature verify forever and nothing signed tells a replay from the original: the edge then takes an
    /// identical body from the same source within the duplicate window for a repeat of the first.
    /// </summary>
    bool SignsTimestamp { get; }

    /// <summary>
    /// Why <paramref name="secret"/> cannot key this scheme, or null when it can. Asked at start: a secret that cannot
    /// verify anything would otherwise refuse every webhook of the source with 401s and nothing in the log to say why.
    /// </summary>
    string? SecretProblem(string secret);

    /// <param name="secrets">Every secret currently valid for the source: more than one while a secret is rotated.</param>
    SignatureVerification Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now, TimeSpan tolerance);

    /// <summary>
    /// The sender's delivery id, asked once the body is verified and known to be well-formed JSON: most schemes carry it
    /// in a header (<see cref="SignatureVerification.DedupeKey"/>), some only in the body.
    /// </summary>
    /// <returns>False when the body names an id that no string can hold: the webhook is refused, not stored without it.</returns>
    bool TryReadDedupeKey(SignatureVerification verified, ReadOnlySpan<byte> body, out string? dedupeKey);
}
