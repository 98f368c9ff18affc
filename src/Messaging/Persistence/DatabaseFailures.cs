using System.Net.Sockets;
using Npgsql;

namespace EventBackbone.Messaging.Persistence;

/// <summary>
/// The one answer to "is the database unavailable?", for every place that waits for it instead of failing: the 503 of
/// the HTTP edge, the consumer failure policy's outage retries, migration at start and the outbox and inbox loops. Three
/// classifiers disagreed: the delivery loop took any <see cref="NpgsqlException"/>, so a unique violation was waited for
/// as an outage, and migration took any <see cref="TimeoutException"/>, so would the HTTP timeout of another client.
/// </summary>
internal static class DatabaseFailures
{
    /// <summary>
    /// Connection-level failures only, found anywhere in the chain of inner exceptions (EF Core and MassTransit wrap
    /// them): a constraint violation, a serialization failure or a bug is not "unavailable" and takes its normal path.
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                // The server answered: it decides, and only these states mean it cannot serve us now. Class 08
                // connection exceptions; 57P01-57P03 shutdown, crash, cannot connect now; 53300 too many connections.
                case PostgresException postgres:
                    return postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
                        || postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                            or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections;
                // Npgsql's own transient failures: a broken or refused connection, a timeout opening one, reading from
                // one or waiting for a pooled one (each an NpgsqlException around an IOException, SocketException or
                // TimeoutException). A bare TimeoutException is not counted: HttpClient's timeout is one too.
                case NpgsqlException { IsTransient: true }:
                case SocketException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The server gave up on one statement because of a conflict with another transaction (deadlock 40P01,
    /// serialization failure 40001): nothing is wrong with the message, and running it again on its own succeeds.
    /// </summary>
    public static bool IsLockConflict(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is PostgresException postgres)
            {
                return postgres.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure;
            }
        }

        return false;
    }
}
