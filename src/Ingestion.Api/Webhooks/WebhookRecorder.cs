using System.Security.Cryptography;
using System.Text;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Ingestion.Api.Persistence;
using EventBackbone.Messaging.Transport;
using MassTransit;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>A verified webhook, ready to be recorded.</summary>
public sealed record VerifiedWebhook(string Source, string? EventType, string? DedupeKey, string ContentType, byte[] Body)
{
    /// <summary>The request's activity: its message is published in the request's trace, whoever writes it.</summary>
    public System.Diagnostics.Activity? Trace { get; init; }

    /// <summary>
    /// The source's signature covers no timestamp: an identical body within the duplicate window is a repeat, whatever
    /// delivery id comes with it (that id is not signed, so a replay can choose it).
    /// </summary>
    public bool DeduplicateByBody { get; init; }
}

/// <summary>What recording one webhook gave: the event id it is known by, and whether it repeated one already recorded.</summary>
/// <param name="EventId">The recorded event's id (the original one for a repeat).</param>
/// <param name="Duplicate">A repeat of an already accepted delivery: nothing new is published.</param>
public readonly record struct RecordedWebhook(Guid EventId, bool Duplicate);

/// <summary>
/// Records verified webhooks: their receipts and their <see cref="WebhookReceived"/> outbox rows commit in one
/// transaction, so a 202 means both are durable and the event will be published, and a failed commit publishes nothing.
/// On PostgreSQL concurrent webhooks share that transaction through the messaging core's group commit
/// (<see cref="SqlWebhookReceiptStore"/>), each with its own outbox group.
/// </summary>
public sealed class WebhookRecorder(IWebhookReceiptStore store)
{
    public async Task<RecordedWebhook> RecordAsync(VerifiedWebhook webhook, CancellationToken cancellationToken) =>
        await store.Record([webhook], cancellationToken)[0];

    /// <returns>One task per webhook, in order; one failing does not hide that the others committed.</returns>
    public IReadOnlyList<Task<RecordedWebhook>> Record(IReadOnlyList<VerifiedWebhook> webhooks, CancellationToken cancellationToken) =>
        store.Record(webhooks, cancellationToken);
}

/// <summary>
/// What accepting a batch of webhooks writes, whichever store writes it: repeats (of a committed delivery, of a body
/// within the duplicate window, or of one earlier in the same batch) are answered with the original event id and
/// publish nothing; every other webhook gets a receipt, a body digest where the source dedupes by body, and its
/// message.
/// </summary>
public sealed class WebhookReceiptRules(WebhookIngestionSettings settings, TimeProvider clock)
{
    /// <returns>One result per webhook, in order.</returns>
    public async Task<RecordedWebhook[]> WriteAsync(
        IReadOnlyList<VerifiedWebhook> webhooks, IWebhookReceiptReads store, IWebhookReceiptWrite write, CancellationToken cancellationToken)
    {
        var results = new RecordedWebhook[webhooks.Count];
        var keyed = webhooks.Where(x => x.DedupeKey is not null).Select(x => (x.Source, x.DedupeKey!)).Distinct().ToList();
        var accepted = keyed.Count == 0 ? [] : await store.FindAcceptedAsync(keyed, cancellationToken);
        var now = clock.GetUtcNow();
        var windowStart = now - settings.DuplicateWindow;
        var digests = webhooks.Select(x => x.DeduplicateByBody ? Convert.ToHexStringLower(SHA256.HashData(x.Body)) : null).ToArray();
        var bodies = webhooks.Select((x, i) => (x.Source, Digest: digests[i]!)).Where(x => x.Digest is not null).Distinct().ToList();
        var acceptedBodies = bodies.Count == 0 ? [] : await store.FindAcceptedBodiesAsync(bodies, windowStart, cancellationToken);
        for (var i = 0; i < webhooks.Count; i++)
        {
            var webhook = webhooks[i];
            (string Source, string DedupeKey)? key = webhook.DedupeKey is null ? null : (webhook.Source, webhook.DedupeKey);
            // A repeat of an earlier delivery, or of one earlier in this same batch, is answered with its event id.
            if (key is { } dedupe && accepted.TryGetValue(dedupe, out var original))
            {
                results[i] = new RecordedWebhook(original, Duplicate: true);
                continue;
            }

            (string Source, string Digest)? body = digests[i] is { } digest ? (webhook.Source, digest) : null;
            if (body is { } replay && acceptedBodies.TryGetValue(replay, out var replayed))
            {
                results[i] = new RecordedWebhook(replayed, Duplicate: true);
                continue;
            }

            var receipt = new WebhookReceipt
            {
                EventId = NewId.NextGuid(),
                Source = webhook.Source,
                EventType = webhook.EventType,
                DedupeKey = webhook.DedupeKey,
                ContentType = webhook.ContentType,
                Body = webhook.Body,
                ReceivedAt = now,
            };
            write.Add(receipt);
            if (body is { } firstBody)
            {
                write.Add(
                    new WebhookBodyDigest { Source = webhook.Source, BodySha256 = Convert.FromHexString(firstBody.Digest), EventId = receipt.EventId, ReceivedAt = now },
                    windowStart);
            }

            // The outbox turns this publish into a row of the same transaction; nothing reaches the broker before
            // commit. The message id is the event id, so the event's status can tell whether its message has left.
            // A group-commit writer runs this, not the request: without the request's activity the outbox would
            // start a trace of its own and the webhook's consumers would be cut off from the request that accepted it.
            var writer = System.Diagnostics.Activity.Current;
            System.Diagnostics.Activity.Current = webhook.Trace ?? writer;
            try
            {
                await write.OutboxFor(i).Publish(
                    new WebhookReceived(receipt.EventId, receipt.Source, receipt.EventType, receipt.ReceivedAt, receipt.ContentType, Encoding.UTF8.GetString(receipt.Body)),
                    context =>
                    {
                        context.MessageId = receipt.EventId;
                        // Every log line of every consumer of this webhook then names its source (and, by the
                        // message id, its event id), without the consumers having to.
                        context.Headers.Set(ConsumeLogScope.WebhookSourceHeader, receipt.Source);
                    },
                    cancellationToken);
            }
            finally
            {
                System.Diagnostics.Activity.Current = writer;
            }

            results[i] = new RecordedWebhook(receipt.EventId, Duplicate: false);
            if (key is { } first)
            {
                accepted[first] = receipt.EventId;
            }

            if (body is { } sameBody)
            {
                acceptedBodies[sameBody] = receipt.EventId;
            }
        }

        return results;
    }
}
