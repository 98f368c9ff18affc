using System.Net;
using System.Net.Sockets;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Integration.Tests;

/// <summary>When a server is down, the integration tier must fail saying which one, not hang or skip.</summary>
public sealed class InfrastructureProbeSpecs
{
    [Fact]
    public async Task A_stopped_rabbitmq_fails_with_a_message_saying_it_is_unreachable()
    {
        var closedPort = ClosedPort();

        var failure = await Assert.ThrowsAsync<InfrastructureUnavailableException>(
            () => InfrastructureProbe.EnsureRabbitMqReachableAsync("127.0.0.1", closedPort));

        Assert.StartsWith($"RabbitMQ is unreachable at 127.0.0.1:{closedPort}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("scripts/infra.sh up", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_postgres_fails_with_a_message_saying_it_is_unreachable()
    {
        var closedPort = ClosedPort();

        var failure = await Assert.ThrowsAsync<InfrastructureUnavailableException>(
            () => InfrastructureProbe.EnsurePostgresReachableAsync(
                $"Host=127.0.0.1;Port={closedPort};Username=backbone;Password=backbone;Database=postgres"));

        Assert.StartsWith($"PostgreSQL is unreachable at 127.0.0.1:{closedPort}", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_running_servers_pass_the_probes()
    {
        var settings = InfrastructureSettings.FromEnvironment();

        await InfrastructureProbe.EnsureRabbitMqReachableAsync(settings.RabbitHost, settings.RabbitPort);
        await InfrastructureProbe.EnsurePostgresReachableAsync(settings.PostgresAdminConnectionString);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
