using System.Collections.Concurrent;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Probe;
using EventBackbone.Messaging.Transport;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>Every ProbeMessage delivery the broker made to the receiver, by message id (duplicates counted).</summary>
public sealed class ReceivedMessages
{
    public ConcurrentDictionary<Guid, int> ByMessageId { get; } = new();

    public ConcurrentDictionary<Guid, DateTime> FirstArrival { get; } = new();

    public ConcurrentDictionary<Guid, ReceivedEnvelope> Envelopes { get; } = new();

    /// <summary>Every delivery in the order the receiver got it; meaningful as an order only from an ordered receiver.</summary>
    public ConcurrentQueue<Guid> Arrivals { get; } = new();

    public int Deliveries => ByMessageId.Values.Sum();
}

/// <summary>What the consumer saw of a message besides its body.</summary>
public sealed record ReceivedEnvelope(Guid? CorrelationId, Guid? ConversationId, string? TestHeader, string? TraceId);

/// <summary>
/// Counts raw broker deliveries: a plain MassTransit consumer with no inbox, because an inbox would hide exactly
/// the duplicates these tests look for.
/// </summary>
public sealed class RecordingConsumer(ReceivedMessages received) : IConsumer<ProbeMessage>
{
    public Task Consume(ConsumeContext<ProbeMessage> context)
    {
        var id = context.MessageId ?? throw new InvalidOperationException("ProbeMessage without MessageId");
        received.ByMessageId.AddOrUpdate(id, 1, (_, count) => count + 1);
        received.FirstArrival.TryAdd(id, DateTime.UtcNow);
        received.Arrivals.Enqueue(id);
        received.Envelopes.TryAdd(id, new ReceivedEnvelope(
            context.CorrelationId,
            context.ConversationId,
            context.Headers.Get<string>("X-Backbone-Test"),
            System.Diagnostics.Activity.Current?.TraceId.ToString()));
        return Task.CompletedTask;
    }
}

internal static class ProbeHosts
{
    public static readonly string ProbeAssembly = RepositoryLayout.TestProgramAssembly("Messaging.Probe");

    /// <summary>A host composed like a service host: the Probe database with the durable core, on the fixture's vhost.</summary>
    public static async Task<IHost> StartServiceAsync(
        BackboneInfrastructure infrastructure,
        Action<IBusRegistrationConfigurator>? configureBus = null,
        IReadOnlyDictionary<string, string>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(infrastructure.HostSettings()!);
        builder.Configuration.AddInMemoryCollection((settings ?? new Dictionary<string, string>())!);
        builder.AddServiceDatabase<ProbeDbContext>("Probe");
        builder.AddBackboneBus(bus => configureBus?.Invoke(bus));
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>A plain bus that records every ProbeMessage the broker delivers to queue <paramref name="queue"/>.</summary>
    /// <param name="ordered">One message at a time, so <see cref="ReceivedMessages.Arrivals"/> is the queue's order.</param>
    public static async Task<IHost> StartReceiverAsync(
        BackboneInfrastructure infrastructure, ReceivedMessages received, string queue = "probe-recording", bool ordered = false)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(received);
        var settings = infrastructure.HostSettings();
        builder.Services.AddMassTransit(bus =>
        {
            bus.AddConsumer<RecordingConsumer>().Endpoint(endpoint =>
            {
                endpoint.Name = queue;
                if (ordered)
                {
                    endpoint.ConcurrentMessageLimit = 1;
                }
            });
            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(settings["Backbone:RabbitMq:Host"], (ushort)infrastructure.Settings.RabbitPort, settings["Backbone:RabbitMq:VirtualHost"], host =>
                {
                    host.Username(infrastructure.Settings.RabbitUsername);
                    host.Password(infrastructure.Settings.RabbitPassword);
                });
                cfg.ConfigureEndpoints(context);
            });
        });
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>The probe program as a child process the test can SIGKILL.</summary>
    public static HostProcess StartProbe(BackboneInfrastructure infrastructure, string mode, params string[] arguments)
    {
        var settings = new Dictionary<string, string>(infrastructure.HostSettings())
        {
            // Short leases: a killed probe's claimed or handed-off rows become deliverable again within seconds, not a minute.
            ["Backbone:Messaging:DeliveryLease"] = "00:00:05",
            ["Backbone:Messaging:HandoffLease"] = "00:00:03",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        return HostProcess.StartAssembly($"probe-{mode}", ProbeAssembly, settings, ["--Probe:Mode", mode, .. arguments]);
    }
}
