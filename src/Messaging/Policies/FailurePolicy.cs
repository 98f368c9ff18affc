using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using MassTransit;

namespace EventBackbone.Messaging.Policies;

/// <summary>
/// The failure policy every consumer and saga endpoint uses, from its definition:
/// <c>endpointConfigurator.UseBackboneFailurePolicy();</c>. Transient faults are retried at once (100 ms, 500 ms, 1 s),
/// then redelivered later through the durable scheduler (5 s, 30 s, 2 min by default), then go to the <c>_error</c>
/// queue with MassTransit's fault headers. Non-transient faults skip both: retrying a message that can never succeed
/// only delays its dead-lettering and burns the retry budget of everything behind it.
/// </summary>
public static class FailurePolicy
{
    public static readonly IReadOnlyList<TimeSpan> DefaultRedeliveries = [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)];

    /// <summary>
    /// Faults no retry can fix: a message that does not validate, whose data is malformed, or that refers to something
    /// that does not exist. Consumers throw these (or answer with a rejection event) instead of hoping for a retry.
    /// </summary>
    public static readonly IReadOnlyList<Type> NonTransient =
    [
        typeof(ValidationException),
        typeof(ArgumentException),
        typeof(FormatException),
        typeof(JsonException),
        typeof(KeyNotFoundException),
    ];

    /// <param name="redeliveries">Delays of the later redeliveries; none turns them off.</param>
    /// <param name="configureRedelivery">More conditions for redelivery, e.g. which exceptions it alone handles.</param>
    /// <param name="configureRetry">More conditions for the immediate retries.</param>
    public static void UseBackboneFailurePolicy(
        this IReceiveEndpointConfigurator endpoint,
        IReadOnlyList<TimeSpan>? redeliveries = null,
        Action<IRetryConfigurator>? configureRedelivery = null,
        Action<IRetryConfigurator>? configureRetry = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        redeliveries ??= DefaultRedeliveries;
        if (redeliveries.Count > 0)
        {
            // Scheduled, not delayed: UseDelayedRedelivery needs RabbitMQ's delayed-exchange plugin, which we do not
            // have (it faulted with "unknown exchange type 'x-delayed-message'"); this goes through our durable scheduler.
            endpoint.UseScheduledRedelivery(redelivery =>
            {
                IgnoreNonTransient(redelivery);
                configureRedelivery?.Invoke(redelivery);
                redelivery.Intervals([.. redeliveries]);
            });
        }

        // Inside redelivery, outside the inbox transaction: every attempt gets a fresh scope, DbContext and transaction.
        endpoint.UseMessageRetry(retry =>
        {
            IgnoreNonTransient(retry);
            configureRetry?.Invoke(retry);
            retry.Intervals(100, 500, 1000);
        });
    }

    private static void IgnoreNonTransient(IRetryConfigurator retry)
    {
        foreach (var type in NonTransient)
        {
            retry.Ignore(type);
        }
    }
}
