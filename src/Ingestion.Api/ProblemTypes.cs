using Microsoft.AspNetCore.Http;

namespace EventBackbone.Ingestion.Api;

/// <summary>
/// RFC 9457 problem types. The <c>type</c> URIs are part of the API contract: clients branch on them, so they never
/// change once published.
/// </summary>
public static class ProblemTypes
{
    private const string Base = "https://eventbackbone.dev/problems/";

    public const string UnknownSource = Base + "unknown-source";
    public const string UnsupportedMediaType = Base + "unsupported-media-type";
    public const string BodyTooLarge = Base + "body-too-large";
    public const string BodyReadTimeout = Base + "body-read-timeout";
    public const string MalformedBody = Base + "malformed-body";
    public const string UnstorableMetadata = Base + "unstorable-metadata";
    public const string EventNotFound = Base + "event-not-found";
    public const string InvalidSignature = Base + "invalid-signature";
    public const string RateLimited = Base + "rate-limited";
    public const string ServerBusy = Base + "server-busy";
    public const string TimestampOutOfTolerance = Base + "timestamp-out-of-tolerance";
    public const string UnknownCommand = Base + "unknown-command";
    public const string InvalidCommand = Base + "invalid-command";
    public const string InvalidIdempotencyKey = Base + "invalid-idempotency-key";
    public const string IdempotencyKeyReused = Base + "idempotency-key-reused";
    public const string CommandNotFound = Base + "command-not-found";

    public static IResult Problem(string type, int status, string title, string detail) =>
        Results.Problem(type: type, statusCode: status, title: title, detail: detail);
}
