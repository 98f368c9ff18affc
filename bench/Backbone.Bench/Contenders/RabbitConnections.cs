using EventBackbone.TestInfrastructure;
using RabbitMQ.Client;

namespace EventBackbone.Bench.Contenders;

internal static class RabbitConnections
{
    public static Task<IConnection> OpenAsync(InfrastructureSettings settings, string virtualHost, string role, CancellationToken cancellationToken)
    {
        var factory = new ConnectionFactory
        {
            HostName = settings.RabbitHost,
            Port = settings.RabbitPort,
            VirtualHost = virtualHost,
            UserName = settings.RabbitUsername,
            Password = settings.RabbitPassword,
            // A benchmark that silently reconnects would report the figures of a run that had an outage in it.
            AutomaticRecoveryEnabled = false,
        };
        return factory.CreateConnectionAsync($"backbone-bench {role}", cancellationToken);
    }
}
