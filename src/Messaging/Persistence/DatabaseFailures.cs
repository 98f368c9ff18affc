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
    /// <summary>Npgsql's message when a multi-host connection string finds no host of the wanted role (see below).</summary>
    private const string NoSuitableHost = "No suitable host was found.";

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
                // A multi-host connection string (Target Session Attributes=primary) during a failover: the primary is
                // gone and the standby not promoted yet, and Npgsql, remembering each host as down or as a standby,
                // throws this bare NpgsqlException (NpgsqlMultiHostDataSource; no inner exception, not transient).
                // The promotion is what we wait for; without this a starting host crashed and a consumer's message
                // went the way of a bug.
                case NpgsqlException { InnerException: null } npgsql when npgsql.GetType() == typeof(NpgsqlException)
                    && npgsql.Message == NoSuitableHost:
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
