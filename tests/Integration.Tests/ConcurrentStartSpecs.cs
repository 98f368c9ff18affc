using EventBackbone.TestInfrastructure;
using EventBackbone.Workers.Persistence;
using Microsoft.EntityFrameworkCore.Migrations;

namespace EventBackbone.Integration.Tests;

/// <summary>Replicas of one service start together on a new database: the schema is created once, and both come up.</summary>
public sealed class ConcurrentStartSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    [Fact]
    public async Task Three_instances_starting_at_once_migrate_the_database_once_and_all_start()
    {
        var starting = Enumerable.Range(0, 3).Select(_ => WorkersHost.StartAsync(infrastructure)).ToList();

        var hosts = await Task.WhenAll(starting);

        try
        {
            // Every migration applied, each once (a second instance applying one fails on "relation already exists").
            var migrations = typeof(WorkersDbContext).Assembly.GetTypes()
                .Count(type => type.GetCustomAttributes(typeof(MigrationAttribute), inherit: false).Length > 0);
            Assert.True(migrations >= 2, "The race needs at least two migrations to apply.");
            Assert.Equal(migrations, await infrastructure.Database("Workers").ScalarAsync<long>(
                "SELECT count(*) FROM \"__EFMigrationsHistory\""));
            Assert.Equal(1, await infrastructure.Database("Workers").ScalarAsync<long>(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'inbound_webhooks'"));
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }
    }
}
