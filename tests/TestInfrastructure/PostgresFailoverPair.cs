using System.Globalization;
using Npgsql;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// The PostgreSQL primary + synchronous standby of <c>bash scripts/infra.sh cluster up</c> (clusters 15/failover_a on
/// 5441 and 15/failover_b on 5442; either may be the primary after a promote), reached as the hosts reach it: one
/// multi-host connection string with <c>Target Session Attributes=primary</c>.
/// </summary>
public sealed class PostgresFailoverPair
{
    private static readonly (string Cluster, int Port)[] Members = [("failover_a", 5441), ("failover_b", 5442)];

    public static string AdminConnectionString { get; } =
        Environment.GetEnvironmentVariable("Backbone__Cluster__Postgres__AdminConnectionString") is { Length: > 0 } value
            ? value
            : "Host=127.0.0.1:5441,127.0.0.1:5442;Target Session Attributes=primary;Username=backbone;Password=backbone;Database=postgres";

    /// <summary>Settings for <see cref="ScratchDatabase"/>: its databases are created on the primary and replicated.</summary>
    public static InfrastructureSettings AsInfrastructure(InfrastructureSettings broker) => broker with { PostgresAdminConnectionString = AdminConnectionString };

    /// <summary>The cluster (e.g. <c>failover_a</c>) that answers as the primary now; fails when none does.</summary>
    public static async Task<string> PrimaryAsync()
    {
        foreach (var (cluster, port) in Members)
        {
            if (await AskAsync(port, "SELECT NOT pg_is_in_recovery()") is true)
            {
                return cluster;
            }
        }

        throw new InfrastructureUnavailableException(
            $"No PostgreSQL cluster of the failover pair answers as the primary. {RabbitMqCluster.StartHint}");
    }

    /// <summary>
    /// Whether the pair is whole: one primary that waits for a synchronous standby on every commit, and the other
    /// cluster running as a standby (false after a promote, until <c>cluster up</c> brings the old primary back).
    /// </summary>
    public static async Task<bool> HasStandbyAsync()
    {
        var roles = new List<object?>();
        foreach (var (_, port) in Members)
        {
            roles.Add(await AskAsync(port, "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE current_setting('synchronous_standby_names') END"));
        }

        return roles.Count(x => x is "standby") == 1 && roles.Any(x => x is string names && names.Length > 0 && names != "standby");
    }

    /// <summary>
    /// SIGKILLs the primary's postmaster (no shutdown checkpoint, no goodbye to clients or to the standby); its backends
    /// notice the postmaster is gone and end by themselves. Returns the killed cluster's name.
    /// </summary>
    public static async Task<string> KillPrimaryAsync()
    {
        var primary = await PrimaryAsync();
        var pidFile = $"/var/lib/postgresql/15/{primary}/postmaster.pid";
        var pid = int.Parse(File.ReadLines(pidFile).First().Trim(), CultureInfo.InvariantCulture);
        using var postmaster = System.Diagnostics.Process.GetProcessById(pid);
        // Process.Kill is SIGKILL on Linux.
        postmaster.Kill();
        await postmaster.WaitForExitAsync();
        return primary;
    }

    /// <summary>One scalar from one member (not through the multi-host string); null when it is down or refuses.</summary>
    private static async Task<object?> AskAsync(int port, string sql)
    {
        try
        {
            var single = new NpgsqlConnectionStringBuilder(AdminConnectionString)
            {
                Host = "127.0.0.1",
                Port = port,
                TargetSessionAttributes = null,
                Pooling = false,
                Timeout = 5,
            }.ConnectionString;
            await using var connection = new NpgsqlConnection(single);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            return await command.ExecuteScalarAsync();
        }
        catch (NpgsqlException)
        {
            return null;
        }
    }
}
