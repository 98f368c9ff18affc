using EventBackbone.Messaging.Persistence;
using Npgsql;

namespace EventBackbone.Messaging.Tests;

/// <summary>
/// Regression for the fault-injection suite's PostgreSQL restart: the hosts' pools, unbounded (Npgsql's 100 each), took
/// every connection slot of the server when they all reconnected at once. Also the session-keeping defaults the durable
/// pipeline benchmark asked for, and that an operator's own setting wins over them.
/// </summary>
[Trait("Tier", "Fast")]
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

    [Fact]
    public void A_service_connection_keeps_its_session_and_prepares_repeated_statements_by_default()
    {
        var reused = new NpgsqlConnectionStringBuilder(ServiceDatabase.WithStatementReuse("Host=db;Database=workers;Username=u;Password=p"));

        Assert.True(reused.NoResetOnClose);
        Assert.Equal(ServiceDatabase.DefaultMaxAutoPrepare, reused.MaxAutoPrepare);
        Assert.Equal("p", reused.Password);
    }

    [Fact]
    public void Session_reset_and_auto_preparation_the_operator_set_are_kept()
    {
        var kept = new NpgsqlConnectionStringBuilder(ServiceDatabase.WithStatementReuse("Host=db;Database=workers;No Reset On Close=false;Max Auto Prepare=0"));

        Assert.False(kept.NoResetOnClose);
        Assert.Equal(0, kept.MaxAutoPrepare);
    }
}
