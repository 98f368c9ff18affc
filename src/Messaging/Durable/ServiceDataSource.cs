using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Messaging.Durable;

/// <summary>
/// Raw Npgsql access to the service's database for the few statements EF Core cannot express in one round trip
/// (lease claims with SKIP LOCKED, upserts, batched deletes) and for the LISTEN connection.
/// </summary>
public sealed class ServiceDataSource<TDbContext> : IDisposable
    where TDbContext : DbContext
{
    private readonly Lazy<NpgsqlDataSource> _dataSource;

    public ServiceDataSource(IServiceScopeFactory scopes)
    {
        _dataSource = new Lazy<NpgsqlDataSource>(() =>
        {
            using var scope = scopes.CreateScope();
            var connectionString = scope.ServiceProvider.GetRequiredService<TDbContext>().Database.GetConnectionString()
                ?? throw new InvalidOperationException($"{typeof(TDbContext).Name} has no connection string.");
            return NpgsqlDataSource.Create(connectionString);
        });
    }

    public NpgsqlDataSource DataSource => _dataSource.Value;

    public void Dispose()
    {
        if (_dataSource.IsValueCreated)
        {
            _dataSource.Value.Dispose();
        }
    }
}
