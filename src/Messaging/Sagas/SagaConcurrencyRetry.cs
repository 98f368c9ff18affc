using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EventBackbone.Messaging.Sagas;

/// <summary>
/// Retries the two conflicts optimistic saga concurrency produces: an UPDATE/DELETE whose xmin no longer matches
/// (<see cref="DbUpdateConcurrencyException"/>), and the second of two first events inserting the same correlation id
/// (unique violation, SqlState 23505). Each retry runs the whole saga pipe again, so the repository resolves a fresh
/// scope and DbContext and reloads the current row; a retry inside the repository would reuse the stale instance.
/// </summary>
public static class SagaConcurrencyRetry
{
    /// <summary>
    /// Enough for a few dozen deliveries contending for one instance: with jittered backoff each attempt usually
    /// loses to at most a handful of writers, while a genuine bug still reaches the error queue in seconds.
    /// </summary>
    public const int DefaultRetryLimit = 30;

    /// <summary>
    /// On the saga's receive endpoint, e.g. in a saga definition's ConfigureSaga:
    /// <c>endpointConfigurator.UseSagaConcurrencyRetry();</c>. Configure it before any inbox/outbox filter, so the
    /// retry also sits outside the transaction the inbox/outbox opens on the same DbContext.
    /// </summary>
    public static void UseSagaConcurrencyRetry(this IConsumePipeConfigurator endpoint, int retryLimit = DefaultRetryLimit)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        endpoint.UseMessageRetry(retry => Configure(retry, retryLimit));
    }

    /// <summary>On the saga itself, e.g. <c>bus.AddSagaStateMachine&lt;M, S&gt;((_, saga) =&gt; saga.UseSagaConcurrencyRetry())</c>.</summary>
    public static void UseSagaConcurrencyRetry<TSaga>(this ISagaConfigurator<TSaga> saga, int retryLimit = DefaultRetryLimit)
        where TSaga : class, ISaga
    {
        ArgumentNullException.ThrowIfNull(saga);
        saga.UseMessageRetry(retry => Configure(retry, retryLimit));
    }

    /// <summary>True for the conflicts a retry resolves; any other failure is a real fault and goes straight on.</summary>
    public static bool IsConcurrencyConflict(Exception exception) => ConflictReason(exception) is not null;

    internal static bool IsDuplicateInsert(Exception? exception) =>
        exception is DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } };

    internal static string? ConflictReason(Exception? exception) => exception switch
    {
        DbUpdateConcurrencyException => "concurrency_conflict",
        _ when IsDuplicateInsert(exception) => "duplicate_insert",
        _ => null,
    };

    private static void Configure(IRetryConfigurator retry, int retryLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(retryLimit);
        retry.Handle<DbUpdateException>(IsConcurrencyConflict);
        // Exponential with jitter: contenders that lost together must not retry together and collide again.
        retry.Exponential(retryLimit, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(20));
        retry.ConnectRetryObserver(new ConflictRetryCounter());
    }

    private sealed class ConflictRetryCounter : IRetryObserver
    {
        public Task PreRetry<T>(RetryContext<T> context)
            where T : class, PipeContext
        {
            var reason = ConflictReason(context.Exception);
            if (reason is not null)
            {
                var endpoint = (context.Context as ConsumeContext)?.ReceiveContext?.InputAddress?.AbsolutePath;
                SagaMetrics.RecordConflictRetried(reason, endpoint);
            }

            return Task.CompletedTask;
        }

        public Task PostCreate<T>(RetryPolicyContext<T> context)
            where T : class, PipeContext => Task.CompletedTask;

        public Task PostFault<T>(RetryContext<T> context)
            where T : class, PipeContext => Task.CompletedTask;

        public Task RetryFault<T>(RetryContext<T> context)
            where T : class, PipeContext => Task.CompletedTask;

        public Task RetryComplete<T>(RetryContext<T> context)
            where T : class, PipeContext => Task.CompletedTask;
    }
}
