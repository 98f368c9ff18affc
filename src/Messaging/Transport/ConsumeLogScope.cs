using MassTransit;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Transport;

/// <summary>
/// Every log line written while a message is consumed carries its MessageId, CorrelationId and ConversationId (trace
/// and span ids come from the consume activity): an on-call engineer can go from any line to the message, its workflow
/// and its trace. CorrelationId falls back to the ConversationId for messages that have none, so the field is never
/// missing on the consume path. Runs before the message-type router, for every consumer and saga alike.
/// </summary>
public sealed class ConsumeLogScope(ILogger logger) : IFilter<ConsumeContext>
{
    public void Probe(ProbeContext context) => context.CreateFilterScope("backbone-log-scope");

    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        var conversationId = context.ConversationId;
        using (logger.BeginScope(new Dictionary<string, object?>
        {
            ["MessageId"] = context.MessageId,
            ["CorrelationId"] = context.CorrelationId ?? conversationId,
            ["ConversationId"] = conversationId,
        }))
        {
            await next.Send(context);
        }
    }
}
