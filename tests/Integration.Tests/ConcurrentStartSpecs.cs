using EventBackbone.TestInfrastructure;

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
            Assert.Equal(1, await infrastructure.Database("Workers").ScalarAsync<long>(
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
