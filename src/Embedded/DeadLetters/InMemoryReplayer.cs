using System.Net.Mime;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventBackbone.DeadLetters.Capture;
using EventBackbone.DeadLetters.Persistence;
using EventBackbone.DeadLetters.Replay;
using MassTransit;
using MassTransit.Serialization;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// Sends a dead letter back to the queue that failed it, on the in-memory transport — by the queue's name, never to the
/// message type's exchange, so no other subscriber sees it — with its MessageId and headers, without the fault headers
/// and the redelivery count. The ledger, unique per (message, failure count), is claimed before the send: a second
/// replay of the same failure is refused as "already replayed", whoever asks, as the PostgreSQL replayer's is.
/// </summary>
internal sealed class InMemoryReplayer(InMemoryDeadLetterStore store, ISendEndpointProvider endpoints)
{
    private static readonly string[] StrippedHeaderPrefixes = ["MT-Fault-", "MT-Reason", "MT-Redelivery-Count", "MT-Host-"];

    /// <param name="edited">For edit-and-replay: the corrected message, sent in the stored envelope with a new MessageId.</param>
    public async Task<ReplayOutcome> ReplayAsync(Guid messageId, string actor, string? reason, JsonElement? edited, Guid? jobId, CancellationToken cancellationToken)
    {
        var claim = store.Transaction<(DeadLetter? Letter, bool Claimed)>(s =>
        {
            if (!s.Letters.TryGetValue(messageId, out var letter))
            {
                return (null, false);
            }

            var key = (messageId, letter.FailureCount);
            if (s.Ledger.ContainsKey(key))
            {
                return (letter, false);
            }

            s.Ledger[key] = new ReplayLedgerEntry
            {
                MessageId = messageId,
                FailureCount = letter.FailureCount,
                Status = "pending",
                RequestedBy = actor,
                RequestedAt = s.Now,
                JobId = jobId,
            };
            return (letter, true);
        });
        if (claim.Letter is not { } stored)
        {
            return ReplayOutcome.NotFound;
        }

        if (!claim.Claimed)
        {
            return ReplayOutcome.AlreadyReplayed;
        }

        var failureCount = stored.FailureCount;
        try
        {
            var endpoint = await endpoints.GetSendEndpoint(new Uri($"queue:{CapturedMessage.TargetOf(stored.SourceQueue)}"));
            await endpoint.Send(new SerializedMessageBody(), new StoredLetterPipe(stored, edited), cancellationToken);
        }
        catch (Exception failure) when (failure is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not sent: the claim is freed so that the failure can be replayed again.
            store.Transaction(s =>
            {
                s.Ledger.Remove((messageId, failureCount));
                s.AddAudit(actor, "replay-failed", messageId, failure.Message);
                return 0;
            });
            return ReplayOutcome.Failed;
        }

        store.Transaction(s =>
        {
            s.Ledger[(messageId, failureCount)].Status = "confirmed";
            s.Ledger[(messageId, failureCount)].ConfirmedAt = s.Now;
            // Unless the replay already failed again (the transport is fast): that newer failure is what is dead now.
            if (stored.FailureCount == failureCount)
            {
                stored.Status = "replayed";
            }

            s.AddAudit(actor, edited is null ? "replay" : "edit-and-replay", messageId, reason);
            return 0;
        });
        return ReplayOutcome.Replayed;
    }

    /// <summary>Sets the stored ids, headers and content type, and "serializes" the message to the stored bytes.</summary>
    private sealed class StoredLetterPipe(DeadLetter letter, JsonElement? edited) : IPipe<SendContext>
    {
        public Task Send(SendContext context)
        {
            var headers = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(letter.Headers) ?? [];
            foreach (var (name, value) in headers)
            {
                if (!StrippedHeaderPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    && name is not ("MessageId" or "Content-Type") && Plain(value) is { } plain)
                {
                    context.Headers.Set(name, plain);
                }
            }

            var body = letter.Body;
            context.MessageId = letter.MessageId;
            if (edited is { } message)
            {
                // A corrected message is a new message linked to the one it corrects, as in the dead-letter service.
                var newId = Guid.NewGuid();
                var envelope = JsonNode.Parse(letter.Body)!.AsObject();
                envelope["messageId"] = newId.ToString();
                envelope["message"] = JsonNode.Parse(message.GetRawText());
                context.MessageId = newId;
                context.Headers.Set("MT-OriginalMessageId", letter.MessageId.ToString());
                body = JsonSerializer.SerializeToUtf8Bytes(envelope);
            }

            context.CorrelationId = letter.CorrelationId;
            if (letter.MessageType is { } types)
            {
                context.SupportedMessageTypes = types.Split(';');
            }

            var contentType = new ContentType(letter.ContentType ?? "application/vnd.masstransit+json");
            context.ContentType = contentType;
            context.Serializer = new StoredBody(contentType, body);
            return Task.CompletedTask;
        }

        public void Probe(ProbeContext context)
        {
        }

        private static object? Plain(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.TryGetInt64(out var whole) ? whole : value.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => value.GetRawText(),
        };
    }

    /// <summary>"Serializes" any message to the given bytes: a send of exactly the body that was stored.</summary>
    internal sealed class StoredBody(ContentType contentType, byte[] body) : IMessageSerializer
    {
        public ContentType ContentType => contentType;

        public MessageBody GetMessageBody<T>(SendContext<T> context)
            where T : class => new BytesMessageBody(body);
    }
}
