using System.Text.Json;
using System.Text.RegularExpressions;
using EventBackbone.Ingestion.Api.Persistence;
using EventBackbone.Ingestion.Api.Webhooks.Signatures;
using EventBackbone.Messaging.Outbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Serilog;

namespace EventBackbone.Ingestion.Api.Webhooks;

public static partial class WebhookEndpoints
{
    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1");
        api.MapPost("/webhooks/{source}", AcceptAsync)
            .WithName("AcceptWebhook")
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .Produces<WebhookResponse>(StatusCodes.Status202Accepted)
            .Produces<WebhookResponse>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        var status = api.MapGet("/events/{eventId:guid}", GetStatusAsync)
            .WithName("GetEventStatus")
            .Produces<EventStatus>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        if (!endpoints.ServiceProvider.GetRequiredService<WebhookIngestionSettings>().PublicEventStatus)
        {
            // Any valid token: the status is not secret enough for a scope, but not for strangers who learnt an id either.
            status.RequireAuthorization().ProducesProblem(StatusCodes.Status401Unauthorized);
        }

        return endpoints;
    }

    public static bool IsSourceName(string name) => SourceName().IsMatch(name);

    private static async Task<IResult> AcceptAsync(
        string source,
        HttpRequest request,
        WebhookIngestionSettings settings,
        WebhookRecorder recorder,
        TimeProvider clock,
        IDiagnosticContext diagnostics,
        WebhookMetrics metrics,
        WebhookEdgeSettings edge,
        UnverifiedTraffic unverified,
        BodyReadSlots bodyReads,
        SourceBuckets sourceBuckets,
        CancellationToken cancellationToken)
    {
        var known = SourceName().IsMatch(source) && settings.Sources.ContainsKey(source);
        var client = ClientAddress.Key(request.HttpContext, edge.TrustedProxies);
        var trusted = unverified.IsTrusted(client);
        // Before anything is read: an address (or an instance) that has been sending junk pays nothing more for it.
        if (!trusted && unverified.RefusedFor(client) is { } wait)
        {
            metrics.Rejected(known ? source : "unknown", "unverified-rate-limited");
            return WebhookRateLimiting.Refused(request.HttpContext, StatusCodes.Status429TooManyRequests, wait, "Too many refused webhooks from your address");
        }

        if (!SourceName().IsMatch(source) || !settings.Sources.TryGetValue(source, out var configured))
        {
            unverified.Failed(client);
            metrics.Rejected("unknown", "unknown-source");
            return ProblemTypes.Problem(ProblemTypes.UnknownSource, StatusCodes.Status404NotFound,
                "Unknown webhook source", $"No webhook source is named '{source}'.");
        }

        if (!MediaTypes.IsJson(request.ContentType))
        {
            unverified.Failed(client);
            metrics.Rejected(source, "unsupported-media-type");
            return ProblemTypes.Problem(ProblemTypes.UnsupportedMediaType, StatusCodes.Status415UnsupportedMediaType,
                "Unsupported media type", "Webhooks are accepted as application/json.");
        }

        // Disposed early below, once the body is verified: the slot and the pooled array are not held across the commit.
        using var slot = bodyReads.TryEnter(client, trusted);
        if (slot is null)
        {
            metrics.Rejected(source, "busy");
            return WebhookRateLimiting.Refused(request.HttpContext, StatusCodes.Status503ServiceUnavailable, TimeSpan.FromSeconds(1), "Too many webhook bodies are being read");
        }

        PooledBody? received;
        // A deadline for the whole body, not a minimum rate: a sender above Kestrel's 240 B/s would otherwise hold a
        // slot for as long as its body takes to trickle in.
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            deadline.CancelAfter(edge.BodyReadTimeout);
            try
            {
                received = await RequestBody.ReadPooledAsync(request, configured.MaxBodyBytes, deadline.Token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                unverified.Failed(client);
                metrics.Rejected(source, "body-read-timeout");
                // The connection's remaining body is never read: close it rather than let Kestrel drain it.
                request.HttpContext.Response.Headers.Connection = "close";
                return ProblemTypes.Problem(ProblemTypes.BodyReadTimeout, StatusCodes.Status408RequestTimeout,
                    "Body read timed out", $"The body did not arrive within {edge.BodyReadTimeout.TotalSeconds:0.#} s.");
            }
        }

        using var _ = received;
        if (received is null)
        {
            unverified.Failed(client);
            metrics.Rejected(source, "body-too-large");
            return ProblemTypes.Problem(ProblemTypes.BodyTooLarge, StatusCodes.Status413PayloadTooLarge,
                "Body too large", $"The body exceeds this source's limit of {configured.MaxBodyBytes} bytes.");
        }

        // The raw bytes are verified before anything parses them.
        var verification = configured.Scheme.Verify(
            new WebhookRequest(name => request.Headers.TryGetValue(name, out var value) ? value.ToString() : null, received.Memory),
            configured.Secrets,
            clock.GetUtcNow(),
            configured.Tolerance);
        if (!verification.IsValid)
        {
            unverified.Failed(client);
            // Only "signature" or "timestamp": never which part of the signature failed.
            metrics.Rejected(source, verification.Failure == SignatureFailure.Timestamp ? "timestamp" : "signature");
            return verification.Failure == SignatureFailure.Timestamp
                ? ProblemTypes.Problem(ProblemTypes.TimestampOutOfTolerance, StatusCodes.Status401Unauthorized,
                    "Timestamp out of tolerance", "The webhook's timestamp is too far from the current time.")
                : ProblemTypes.Problem(ProblemTypes.InvalidSignature, StatusCodes.Status401Unauthorized,
                    "Invalid signature", "The webhook's signature is missing or does not verify.");
        }

        // Verified: the receipt and outbox row keep an exact copy, never the pooled array.
        var body = received.Memory.ToArray();
        received.Dispose();
        slot.Dispose();
        unverified.Verified(client);

        if (sourceBuckets.TrySpend(source) is { } sourceWait)
        {
            metrics.Rejected(source, "rate-limited");
            return WebhookRateLimiting.Refused(request.HttpContext, StatusCodes.Status429TooManyRequests, sourceWait, "This source's rate limit is exceeded");
        }

        if (!IsWellFormedJson(body))
        {
            metrics.Rejected(source, "malformed-body");
            return ProblemTypes.Problem(ProblemTypes.MalformedBody, StatusCodes.Status400BadRequest,
                "Malformed body", "The body is not well-formed UTF-8 JSON.");
        }

        // Some schemes carry the delivery id only in the body, readable now that the body is verified and well-formed.
        var readableId = configured.Scheme.TryReadDedupeKey(verification, body, out var dedupeKey);
        // An empty delivery id is no delivery id: deduplicating on "" would answer every later webhook without one as
        // the first one's duplicate (200) and never publish it.
        dedupeKey = string.IsNullOrWhiteSpace(dedupeKey) ? null : dedupeKey;
        // Refused here, alone: a value the receipt cannot store would fail the whole group commit it joined — a 500
        // for every other webhook in it.
        if (!readableId || !IsStorable(dedupeKey) || !IsStorable(verification.EventType) || !IsStorable(request.ContentType))
        {
            metrics.Rejected(source, "unstorable-metadata");
            return ProblemTypes.Problem(ProblemTypes.UnstorableMetadata, StatusCodes.Status400BadRequest,
                "Unstorable metadata",
                $"The content type, event type and delivery id are each at most {IngestionDbContext.WebhookMetadataMaxLength} characters, without NUL characters.");
        }

        var (eventId, duplicate) = await recorder.RecordAsync(
            new VerifiedWebhook(source, verification.EventType, dedupeKey, request.ContentType!, body) { Trace = System.Diagnostics.Activity.Current, DeduplicateByBody = configured.DeduplicatesBodies }, cancellationToken);
        // One request log line per webhook carries its event id and source (and is the only "accepted" line).
        diagnostics.Set("EventId", eventId);
        diagnostics.Set("Source", source);
        metrics.Accepted(source, duplicate);
        var location = $"/api/v1/events/{eventId}";
        // A repeat of an accepted delivery is a success for the sender (so it stops retrying), with the original id.
        return duplicate
            ? Results.Ok(new WebhookResponse(eventId))
            : Results.Accepted(location, new WebhookResponse(eventId));
    }

    private static async Task<IResult> GetStatusAsync(Guid eventId, IngestionDbContext db, CancellationToken cancellationToken)
    {
        var receipt = await db.WebhookReceipts.AsNoTracking()
            .Where(x => x.EventId == eventId)
            .Select(x => new { x.EventId, x.Source, x.ReceivedAt })
            .SingleOrDefaultAsync(cancellationToken);
        if (receipt is null)
        {
            return ProblemTypes.Problem(ProblemTypes.EventNotFound, StatusCodes.Status404NotFound, "Event not found", $"No event has id {eventId}.");
        }

        // Accepted while its message waits in the outbox (its message id is the event id); published once it left.
        var waiting = await db.Set<OutboxMessage>().AnyAsync(x => x.MessageId == eventId, cancellationToken);
        return Results.Ok(new EventStatus(receipt.EventId, receipt.Source, receipt.ReceivedAt, waiting ? "accepted" : "published"));
    }

    /// <summary>PostgreSQL text holds no NUL, and the receipt's columns are bounded.</summary>
    private static bool IsStorable(string? value) =>
        value is null || (value.Length <= IngestionDbContext.WebhookMetadataMaxLength && !value.Contains('\0', StringComparison.Ordinal));

    private static bool IsWellFormedJson(byte[] body)
    {
        // Utf8JsonReader checks JSON syntax but not the UTF-8 inside strings and names: invalid bytes there would be
        // accepted and then turned into U+FFFD when the payload is published as text — not the bytes that were signed.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return false;
        }

        try
        {
            // Validates UTF-8 and JSON syntax in one pass without building a document.
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
            }

            return body.Length > 0;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex SourceName();
}

/// <summary>The answer to a webhook (202, or 200 for a repeat): the id of the event it became, for <c>GET /api/v1/events/{id}</c>.</summary>
public sealed record WebhookResponse(Guid EventId);

public sealed record EventStatus(Guid EventId, string Source, DateTimeOffset ReceivedAt, string Status);
