using Npgsql;

namespace EventBackbone.TestInfrastructure;

/// <summary>A throwaway PostgreSQL database, dropped when the test is done, so runs never share state.</summary>
public sealed class ScratchDatabase : IAsyncDisposable
{
    // 40 × 250 ms: long enough for an autovacuum worker to finish with a small database.
    private const int DropAttempts = 40;

    private readonly InfrastructureSettings _settings;

    private ScratchDatabase(InfrastructureSettings settings, string name)
    {
        _settings = settings;
        Name = name;
        ConnectionString = settings.PostgresConnectionString(name);
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<ScratchDatabase> CreateAsync(InfrastructureSettings settings, string purpose)
    {
        await InfrastructureProbe.EnsurePostgresReachableAsync(settings.PostgresAdminConnectionString);
        var name = $"test_{purpose.ToLowerInvariant()}_{Guid.NewGuid():N}";
        await using var admin = new NpgsqlConnection(settings.PostgresAdminConnectionString);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
        await create.ExecuteNonQueryAsync();
        return new ScratchDatabase(settings, name);
    }

    public async Task<T?> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)result;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(_settings.PostgresAdminConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", admin);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException refused) when (refused.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < DropAttempts)
            {
                // FORCE must terminate every session in the database, and PostgreSQL 15 refuses that to a
                // non-superuser when one of them is an autovacuum worker (it belongs to no role): CI failed a
                // whole run on this race once. The worker is done with a scratch database within moments.
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }
        }
    }

}
