using System.Net.Sockets;
using EventBackbone.Messaging.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EventBackbone.Messaging.Tests.Persistence;

/// <summary>What waits for the database (503 at the edge, outage retries, migration, outbox loops) and what does not.</summary>
[Trait("Tier", "Fast")]
public sealed class DatabaseFailuresSpecs
{
    [Theory]
    [InlineData(PostgresErrorCodes.ConnectionException)]
    [InlineData(PostgresErrorCodes.ConnectionFailure)]
    [InlineData(PostgresErrorCodes.SqlClientUnableToEstablishSqlConnection)]
    [InlineData(PostgresErrorCodes.AdminShutdown)]
    [InlineData(PostgresErrorCodes.CrashShutdown)]
    [InlineData(PostgresErrorCodes.CannotConnectNow)]
    [InlineData(PostgresErrorCodes.TooManyConnections)]
    public void A_server_that_cannot_serve_now_is_unavailable(string sqlState) =>
        Assert.True(DatabaseFailures.IsUnavailable(Postgres(sqlState)));

    [Theory]
    [InlineData(PostgresErrorCodes.UniqueViolation)]
    [InlineData(PostgresErrorCodes.SerializationFailure)]
    [InlineData(PostgresErrorCodes.DeadlockDetected)]
    [InlineData(PostgresErrorCodes.UndefinedTable)]
    public void A_server_that_answered_with_an_error_of_the_statement_is_not_unavailable(string sqlState) =>
        Assert.False(DatabaseFailures.IsUnavailable(Postgres(sqlState)));

    [Fact]
    public void A_refused_connection_is_unavailable() =>
        Assert.True(DatabaseFailures.IsUnavailable(new NpgsqlException("Failed to connect to 127.0.0.1:5432", new SocketException((int)SocketError.ConnectionRefused))));

    [Fact]
    public void A_bare_socket_failure_is_unavailable() =>
        Assert.True(DatabaseFailures.IsUnavailable(new SocketException((int)SocketError.ConnectionReset)));

    [Fact]
    public void A_timeout_inside_Npgsql_is_unavailable() =>
        Assert.True(DatabaseFailures.IsUnavailable(new NpgsqlException("The connection pool has been exhausted", new TimeoutException())));

    [Fact]
    public void A_broken_stream_inside_Npgsql_is_unavailable() =>
        Assert.True(DatabaseFailures.IsUnavailable(new NpgsqlException("Exception while reading from stream", new EndOfStreamException())));

    [Fact]
    public void An_outage_wrapped_by_EF_Core_and_a_caller_is_still_unavailable() =>
        Assert.True(DatabaseFailures.IsUnavailable(new InvalidOperationException(
            "An exception has been raised that is likely due to a transient failure.",
            new DbUpdateException("saving", Postgres(PostgresErrorCodes.AdminShutdown)))));

    [Fact]
    public void A_unique_violation_wrapped_by_EF_Core_is_not_unavailable() =>
        Assert.False(DatabaseFailures.IsUnavailable(new DbUpdateException("saving", Postgres(PostgresErrorCodes.UniqueViolation))));

    [Fact]
    public void A_timeout_of_another_client_is_not_a_database_outage() =>
        // HttpClient's timeout: a consumer calling a slow HTTP provider must not wait a minute for "its database".
        Assert.False(DatabaseFailures.IsUnavailable(new TaskCanceledException("The request was canceled", new TimeoutException())));

    [Fact]
    public void A_bug_is_not_unavailable() =>
        Assert.False(DatabaseFailures.IsUnavailable(new InvalidOperationException("Sequence contains no elements")));

    private static PostgresException Postgres(string sqlState) =>
        new("message", "ERROR", "ERROR", sqlState);
}

/// <summary>The one classification that needs the real server: what Npgsql throws when no host has the wanted role.</summary>
[Trait("Tier", "Integration")]
public sealed class DatabaseFailuresOnTheServerSpecs
{
    /// <summary>
    /// During a failover (primary dead, standby not promoted yet) a multi-host connection string with
    /// <c>Target Session Attributes=primary</c> finds no primary: Npgsql says "No suitable host was found." (no inner
    /// exception once it remembers every host as down or a standby). Not counted as unavailable, it crashed a starting
    /// host ("Hosting failed to start", found by the fault suite's cluster topology) instead of waiting for the promotion.
    /// Reproduced against the real server by asking it for a standby it is not.
    /// </summary>
    [Fact]
    public async Task A_multi_host_connection_that_finds_no_server_of_the_wanted_role_is_unavailable()
    {
        var server = new NpgsqlConnectionStringBuilder(EventBackbone.TestInfrastructure.InfrastructureSettings.FromEnvironment().PostgresAdminConnectionString);
        var connectionString = new NpgsqlConnectionStringBuilder(server.ConnectionString)
        {
            // The same server twice: Npgsql takes Target Session Attributes only with several hosts.
            Host = $"{server.Host}:{server.Port},{server.Host}:{server.Port}",
            TargetSessionAttributes = "standby",
            Pooling = false,
        }.ConnectionString;
        await using var connection = new NpgsqlConnection(connectionString);

        var noStandby = await Assert.ThrowsAnyAsync<NpgsqlException>(() => connection.OpenAsync());

        Assert.True(DatabaseFailures.IsUnavailable(noStandby), $"{noStandby.GetType().Name}: {noStandby.Message}");
    }
}
