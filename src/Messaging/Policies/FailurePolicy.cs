using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using EventBackbone.Messaging.Persistence;
using MassTransit;

namespace EventBackbone.Messaging.Policies;

/// <summary>
/// The failure policy every consumer and saga endpoint uses, from its definition:
/// <c>endpointConfigurator.UseBackboneFailurePolicy();</c>. Transient faults are retried at once (100 ms, 500 ms, 1 s),
/// then redelivered later through the durable scheduler (5 s, 30 s, 2 min by default), then go to the <c>_error</c>
/// queue with MassTransit's fault headers. A database that is unreachable is waited for first (about a minute, in memory:
/// the scheduler needs that database too); only a longer outage ends in the <c>_error</c> queue, for an operator to
/// replay. Non-transient faults skip both: retrying a message that can never succeed
/// only delays its dead-lettering and burns the retry budget of everything behind it.
/// </summary>
public static class FailurePolicy
{
    /// <summary>How long a message waits, in memory, for its database to come back (about a minute in all).</summary>
    public static readonly IReadOnlyList<TimeSpan> DatabaseOutageRetries =
        [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30)];

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
    /// <param name="databaseOutageRetries">Pauses while the database is unreachable; <see cref="DatabaseOutageRetries"/> by default.</param>
    public static void UseBackboneFailurePolicy(
        this IReceiveEndpointConfigurator endpoint,
        IReadOnlyList<TimeSpan>? redeliveries = null,
        Action<IRetryConfigurator>? configureRedelivery = null,
        Action<IRetryConfigurator>? configureRetry = null,
        IReadOnlyList<TimeSpan>? databaseOutageRetries = null)
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
            // Waited for by the filter below, which has already given it about a minute.
            retry.Ignore<Exception>(DatabaseFailures.IsUnavailable);
            configureRetry?.Invoke(retry);
            retry.Intervals(100, 500, 1000);
        });

        // Innermost: a database that is restarting or failing over is waited for here, in memory, for about a minute.
        // Found by the fault-injection suite (tests/Reliability.Tests, database-restart): with only the quick retries, a 4 s restart
        // exhausted them and the redelivery could not be scheduled either — the scheduler is that same database — so
        // messages of every consumer went to their _error queues: accepted work dead-lettered by a transient fault.
        endpoint.UseMessageRetry(retry =>
        {
            retry.Handle<Exception>(DatabaseFailures.IsUnavailable);
            retry.Intervals([.. databaseOutageRetries ?? DatabaseOutageRetries]);
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
