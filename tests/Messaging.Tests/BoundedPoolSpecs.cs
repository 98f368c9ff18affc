using EventBackbone.Messaging.Persistence;
using Npgsql;

namespace EventBackbone.Messaging.Tests;

/// <summary>
/// Regression for the fault-injection suite's PostgreSQL restart: the hosts' pools, unbounded (Npgsql's 100 each), took
/// every connection slot of the server when they all reconnected at once.
/// </summary>
public sealed class BoundedPoolSpecs
{
    [Fact]
    public void A_connection_string_without_a_pool_size_gets_the_bounded_default()
    {
        var bounded = new NpgsqlConnectionStringBuilder(ServiceDatabase.WithBoundedPool("Host=db;Database=workers;Username=u;Password=p"));

        Assert.Equal(ServiceDatabase.DefaultMaxPoolSize, bounded.MaxPoolSize);
        Assert.Equal("workers", bounded.Database);
        Assert.Equal("p", bounded.Password);
    }

    [Theory]
    [InlineData("Maximum Pool Size=64")]
    [InlineData("MAXIMUM POOL SIZE=64")]
    [InlineData("maxpoolsize=64")]
    public void A_pool_size_the_operator_set_is_kept(string setting)
    {
        var kept = new NpgsqlConnectionStringBuilder(ServiceDatabase.WithBoundedPool($"Host=db;Database=workers;{setting}"));

        Assert.Equal(64, kept.MaxPoolSize);
    }
}
