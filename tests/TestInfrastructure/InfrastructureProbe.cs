using System.Net.Sockets;
using Npgsql;

namespace EventBackbone.TestInfrastructure;

/// <summary>Fails fast, with a sentence a person can act on, when a real server is not there.</summary>
public static class InfrastructureProbe
{
    /// <summary>
    /// Bounds only a server that accepts but answers slowly: a stopped one refuses at once, so failing fast does not
    /// depend on it. At 3 s, a healthy PostgreSQL on a machine at load 30 failed whole test classes as "unreachable".
    /// </summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    public static async Task EnsureRabbitMqReachableAsync(string host, int port)
    {
        using var client = new TcpClient();
        try
        {
            using var timeout = new CancellationTokenSource(ConnectTimeout);
            await client.ConnectAsync(host, port, timeout.Token);
        }
        catch (Exception unreachable) when (unreachable is SocketException or OperationCanceledException)
        {
            throw new InfrastructureUnavailableException(
                $"RabbitMQ is unreachable at {host}:{port} ({Reason(unreachable)}). {InfrastructureSettings.StartHint}",
                unreachable);
        }
    }

    public static async Task EnsurePostgresReachableAsync(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Timeout = (int)ConnectTimeout.TotalSeconds };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
        }
        catch (Exception unreachable) when (unreachable is NpgsqlException or SocketException or TimeoutException)
        {
            throw new InfrastructureUnavailableException(
                $"PostgreSQL is unreachable at {builder.Host}:{builder.Port} as '{builder.Username}' ({Reason(unreachable)}). "
                + InfrastructureSettings.StartHint,
                unreachable);
        }
    }

    private static string Reason(Exception exception) =>
        exception is OperationCanceledException ? $"no answer within {ConnectTimeout.TotalSeconds} s" : exception.Message;
}
