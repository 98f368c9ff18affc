using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Transport;

/// <summary>Says once, at start, that the in-memory transport keeps nothing: nobody should find out after a restart.</summary>
internal sealed class EmbeddedModeWarning(ILogger<EmbeddedModeWarning> logger) : IHostedService
{
    public const string Message =
        "EMBEDDED MODE: in-memory transport and in-memory storage. NOTHING IS DURABLE: every message, webhook and "
        + "saga is lost when this process stops. Set Backbone__Transport=RabbitMq and ConnectionStrings__<Service> "
        + "for a durable backbone.";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        logger.LogWarning(Message);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
