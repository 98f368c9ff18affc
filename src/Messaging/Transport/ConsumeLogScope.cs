using MassTransit;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Transport;

/// <summary>
/// Every log line written while a message is consumed carries its MessageId, CorrelationId and ConversationId (trace
/// and span ids come from the consume activity): an on-call engineer can go from any line to the message, its workflow
/// and its trace. CorrelationId falls back to the ConversationId for messages that have none, so the field is never
/// missing on the consume path. An accepted webhook's consumers also log its EventId and Source. Runs before the
/// message-type router, for every consumer and saga alike.
/// </summary>
public sealed class ConsumeLogScope(ILogger logger) : IFilter<ConsumeContext>
{
    /// <summary>Set by the edge on an accepted webhook's message, whose MessageId is the webhook's event id.</summary>
    public const string WebhookSourceHeader = "Backbone-Webhook-Source";

    public void Probe(ProbeContext context) => context.CreateFilterScope("backbone-log-scope");

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        var conversationId = context.ConversationId;
        var scope = new Dictionary<string, object?>
        {
            ["MessageId"] = context.MessageId,
            ["CorrelationId"] = context.CorrelationId ?? conversationId,
            ["ConversationId"] = conversationId,
        };
        if (context.Headers.Get<string>(WebhookSourceHeader) is { } source)
        {
            scope["EventId"] = context.MessageId;
            scope["Source"] = source;
        }

        using (logger.BeginScope(scope))
        {
            await next.Send(context);
        }
    }
}
