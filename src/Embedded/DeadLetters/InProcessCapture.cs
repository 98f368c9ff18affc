using System.Text.Json;
using EventBackbone.DeadLetters.Capture;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// Captures dead letters in-process: every receive endpoint's error pipe (a message that faulted after its retries and
/// redeliveries) and dead-letter pipe (a message no consumer took) stores the message in the
/// <see cref="InMemoryDeadLetterStore"/> instead of moving it to an in-memory <c>_error</c>/<c>_skipped</c> queue.
/// <para>
/// Why the pipes and not the in-memory <c>_error</c> queues: the in-memory transport creates those queues lazily and
/// nothing lists them, so a capture bound to them would have to guess queue names and miss any endpoint added later;
/// and its move keeps only MessageId and Content-Type of the original headers. The pipe sees every endpoint that
/// <c>ConfigureEndpoints</c> makes, the exception itself and every header, at the point where the message would
/// otherwise leave the endpoint — so it is either consumed or captured, never parked in a queue nobody reads.
/// </para>
/// </summary>
internal static class InProcessCapture
{
    /// <summary>Applied to every endpoint: replaces MassTransit's default "generate fault, move to _error" and "move to _skipped".</summary>
    public static void ConfigureBus(IBusRegistrationConfigurator bus) =>
        bus.AddConfigureEndpointsCallback((context, _, endpoint) =>
        {
            var store = context.GetRequiredService<InMemoryDeadLetterStore>();
            var logger = context.GetRequiredService<ILogger<InMemoryDeadLetterStore>>();
            endpoint.ConfigureError(error =>
            {
                // Fault<T> is still published, as with the default pipe: a workflow waiting for it must see it.
                error.UseFilter(new GenerateFaultFilter());
                error.UseFilter(new CaptureFilter<ExceptionReceiveContext>(store, logger, CapturedMessage.ErrorSuffix, new ErrorTransportFilter()));
            });
            endpoint.ConfigureDeadLetter(skipped =>
                skipped.UseFilter(new CaptureFilter<ReceiveContext>(store, logger, CapturedMessage.SkippedSuffix, new DeadLetterTransportFilter())));
        });

    /// <summary>
    /// The record the dead-letter service would store from the <c>_error</c> (or <c>_skipped</c>) copy of this message:
    /// the original headers, MassTransit's fault headers and the host's, the body as received.
    /// </summary>
    public static CapturedMessage Captured(ReceiveContext context, string suffix, DateTimeOffset capturedAt)
    {
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var header in context.TransportHeaders.GetAll())
        {
            headers[header.Key] = header.Value;
        }

        var moved = new DictionarySendHeaders();
        moved.SetHostHeaders();
        if (context is ExceptionReceiveContext failed)
        {
            foreach (var header in failed.ExceptionHeaders.GetAll())
            {
                moved.Set(header.Key, header.Value);
            }
        }
        else
        {
            moved.Set(MessageHeaders.Reason, "dead-letter");
        }

        foreach (var header in moved.GetAll())
        {
            headers[header.Key] = header.Value;
        }

        var body = context.GetBody();
        var queue = context.InputAddress.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Last() + suffix;
        return CapturedMessage.From(
            queue, headers, context.GetMessageId()?.ToString(), EnvelopeCorrelationId(body), context.ContentType?.MediaType, body, capturedAt);
    }

    /// <summary>RabbitMQ carries the correlation id as a message property; the in-memory transport only in the envelope.</summary>
    private static string? EnvelopeCorrelationId(byte[] body)
    {
        try
        {
            using var envelope = JsonDocument.Parse(body);
            return envelope.RootElement.ValueKind == JsonValueKind.Object
                && envelope.RootElement.TryGetProperty("correlationId", out var id) && id.ValueKind == JsonValueKind.String
                    ? id.GetString()
                    : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Stores the message; if storing throws (a bug, since the store is memory), the message is moved to the in-memory
    /// queue MassTransit would have used, and the failure is logged: it is kept either way, never dropped.
    /// </summary>
    private sealed class CaptureFilter<TContext>(InMemoryDeadLetterStore store, ILogger logger, string suffix, IFilter<TContext> fallback) : IFilter<TContext>
        where TContext : class, ReceiveContext
    {
        public async Task Send(TContext context, IPipe<TContext> next)
        {
            try
            {
                store.Capture(Captured(context, suffix, store.Now));
            }
#pragma warning disable CA1031 // Any failure to store must fall back to the queue, whatever it is.
            catch (Exception failure)
#pragma warning restore CA1031
            {
                logger.LogError(failure, "A dead letter from {InputAddress} could not be stored in memory; it was moved to its {Suffix} queue", context.InputAddress, suffix);
                await fallback.Send(context, next);
                return;
            }

            await next.Send(context);
        }

        public void Probe(ProbeContext context) => context.CreateFilterScope("capture-dead-letter");
    }
}
