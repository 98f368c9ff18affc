using System.Diagnostics;
using Npgsql;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// The second PostgreSQL cluster that <c>scripts/infra.sh</c> runs only to be taken away: outage tests stop and start
/// it mid-run while every other suite keeps using the shared cluster. Stopping needs the rights of the user that
/// runs the servers (root in CI).
/// </summary>
public sealed class ExpendablePostgres
{
    private readonly string _version;
    private readonly string _cluster;

    private ExpendablePostgres(string cluster, string adminConnectionString)
    {
        var parts = cluster.Split('/');
        (_version, _cluster) = (parts[0], parts[1]);
        Settings = InfrastructureSettings.FromEnvironment() with { PostgresAdminConnectionString = adminConnectionString };
    }

    /// <summary>The name under which suites take turns with this cluster (<see cref="ExclusiveInfrastructure"/>).</summary>
    public const string LockName = "postgres-outage-cluster";

    /// <summary>The shared settings with PostgreSQL pointing at this cluster (RabbitMQ unchanged).</summary>
    public InfrastructureSettings Settings { get; }

    public static ExpendablePostgres FromEnvironment() => new(
        Environment.GetEnvironmentVariable("Backbone__Postgres__OutageCluster") is { Length: > 0 } cluster ? cluster : "15/outage",
        Environment.GetEnvironmentVariable("Backbone__Postgres__OutageAdminConnectionString") is { Length: > 0 } admin
            ? admin
            : "Host=127.0.0.1;Port=5433;Username=backbone;Password=backbone;Database=postgres");

    /// <summary>Waits until no other suite is stopping and starting this cluster; dispose the answer to let them.</summary>
    public static Task<ExclusiveInfrastructure> AcquireAsync() => ExclusiveInfrastructure.AcquireAsync(LockName, TimeSpan.FromMinutes(20));

    /// <summary>Fast shutdown: PostgreSQL aborts open transactions and drops every connection, as in a crash of the host.</summary>
    public Task StopAsync() => PgCtlClusterAsync("stop", "-m", "fast");

    public async Task StartAsync()
    {
        await PgCtlClusterAsync("start");
        await Eventually.HoldsAsync(
            async () =>
            {
                try
                {
                    await using var connection = new NpgsqlConnection(Settings.PostgresAdminConnectionString);
                    await connection.OpenAsync();
                    return true;
                }
                catch (NpgsqlException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => $"PostgreSQL {_version}/{_cluster} did not accept connections after starting.");
    }

    /// <summary>Starts the cluster if a previous run left it stopped; an unreachable cluster fails with the usual hint.</summary>
    public async Task EnsureRunningAsync()
    {
        try
        {
            await InfrastructureProbe.EnsurePostgresReachableAsync(Settings.PostgresAdminConnectionString);
        }
        catch (InfrastructureUnavailableException)
        {
            await StartAsync();
        }
    }

    private async Task PgCtlClusterAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("pg_ctlcluster") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(_version);
        start.ArgumentList.Add(_cluster);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)
            ?? throw new InfrastructureUnavailableException($"pg_ctlcluster could not be started. {InfrastructureSettings.StartHint}");
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        // "already running" / "not running" are fine: the cluster is in the state we asked for.
        if (process.ExitCode != 0 && !errors.Contains("already running", StringComparison.Ordinal) && !errors.Contains("is not running", StringComparison.Ordinal))
        {
            throw new InfrastructureUnavailableException(
                $"pg_ctlcluster {_version} {_cluster} {string.Join(' ', arguments)} failed ({process.ExitCode}): {errors.Trim()}");
        }
    }
}
