using System.Collections.Concurrent;
using System.Text.Json;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Transport;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EventBackbone.Cluster.Tests;

public record ClusterProbe(Guid Id, bool Fail);

/// <summary>Sent to the probe's queue, where nothing consumes it: MassTransit moves it to <c>_skipped</c>.</summary>
public record ClusterStray(Guid Id);

public sealed class ClusterProbeLog
{
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _consumed = new();

    public Task Consumed(Guid id) => Signal(id).Task;

    public void Record(Guid id) => Signal(id).TrySetResult();

    private TaskCompletionSource Signal(Guid id) =>
        _consumed.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>Queue <c>cluster-probe</c>; a probe marked to fail goes to <c>cluster-probe_error</c> (no retry policy here).</summary>
public sealed class ClusterProbeConsumer(ClusterProbeLog log) : IConsumer<ClusterProbe>
{
    public Task Consume(ConsumeContext<ClusterProbe> context)
    {
        if (context.Message.Fail)
        {
            throw new InvalidOperationException($"Probe {context.Message.Id} fails on purpose.");
        }

        log.Record(context.Message.Id);
        return Task.CompletedTask;
    }
}

public sealed class ClusterDbContext(DbContextOptions<ClusterDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.AddBackboneMessaging();
}

/// <summary>
/// A bus configured with <c>Backbone:RabbitMq:Nodes</c> and <c>QuorumQueues</c> on the real three-node cluster: its
/// queues, including those MassTransit declares for what fails, are replicated on every node, and when the node it is
/// connected to is SIGKILLed it goes on through a survivor.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class QuorumBusSpecs(ITestOutputHelper output)
{
    private const string EndpointQueue = "cluster-probe";

    /// <summary>Generous: a node's death is noticed by the client through the socket, the survivors' by net_ticktime (15 s).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task A_bus_on_the_cluster_has_quorum_queues_on_all_nodes_and_goes_on_through_a_survivor_when_its_node_is_SIGKILLed()
    {
        using var cluster = await RabbitMqCluster.FromEnvironmentAsync();
        // The fault-injection suite's cluster scenarios kill and cut off the same nodes: take turns.
        using var turn = await RabbitMqCluster.AcquireAsync();
        var infrastructure = cluster.AsInfrastructure(InfrastructureSettings.FromEnvironment());
        await using var vhost = await RabbitMqVirtualHost.CreateAsync(infrastructure);
        await using var database = await ScratchDatabase.CreateAsync(infrastructure, "Cluster");
        var log = new ClusterProbeLog();
        var logs = new RecordedLogs();
        using var host = BuildHost(cluster, vhost.Name, database.ConnectionString, log, logs);
        string? killed = null;
        LogContext.ConfigureCurrentLogContext(host.Services.GetRequiredService<ILoggerFactory>());
        using (var starting = new CancellationTokenSource(Patience))
        {
            await host.StartAsync(starting.Token);
        }

        try
        {
            var bus = host.Services.GetRequiredService<IBus>();
            var first = Guid.NewGuid();
            await bus.Publish(new ClusterProbe(first, Fail: false));
            await Consumed(log, first, "before any fault", logs);

            await bus.Publish(new ClusterProbe(Guid.NewGuid(), Fail: true));
            // exchange:, not queue: a queue: address makes MassTransit declare the queue as a classic one, which the
            // broker refuses for a quorum queue of that name (PRECONDITION_FAILED inequivalent arg 'x-queue-type'), and
            // the send retries that forever.
            var endpoint = await bus.GetSendEndpoint(new Uri($"exchange:{EndpointQueue}"));
            using (var sending = new CancellationTokenSource(Patience))
            {
                await endpoint.Send(new ClusterStray(Guid.NewGuid()), sending.Token);
            }

            foreach (var queue in new[] { EndpointQueue, $"{EndpointQueue}_error", $"{EndpointQueue}_skipped" })
            {
                // The _error and _skipped queues are declared when the first message is moved there.
                JsonElement? declared = null;
                await Eventually.HoldsAsync(
                    async () => (declared = await cluster.QueueAsync(vhost.Name, queue)) is not null,
                    Patience,
                    () => $"{queue} was never declared.\n{logs}");
                AssertQuorumOnEveryNode(cluster, queue, declared!.Value);
            }

            IReadOnlyList<string> connected = [];
            await Eventually.HoldsAsync(
                async () => (connected = await cluster.ConnectionNodesAsync(vhost.Name)).Count > 0,
                Patience,
                () => $"The bus has no connection in its vhost.\n{logs}");
            killed = Assert.Single(connected.Distinct());

            cluster.Kill(killed);

            IReadOnlyList<string> now = [];
            await Eventually.HoldsAsync(
                async () => (now = await cluster.ConnectionNodesAsync(vhost.Name)).Count > 0 && !now.Contains(killed),
                Patience,
                () => $"The bus did not reconnect to a survivor after {killed} was killed; its connections are on: {string.Join(", ", now)}.\n{logs}");

            var afterKill = Guid.NewGuid();
            await bus.Publish(new ClusterProbe(afterKill, Fail: false));
            await Consumed(log, afterKill, $"after {killed} was killed", logs);
            // What the bus went through, for the record (the reconnection is MassTransit's, seen only in its log).
            output.WriteLine($"Killed {killed}; the bus went on through {string.Join(", ", now.Distinct())}. Its warnings:\n{logs}");
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
            if (killed is not null)
            {
                await RabbitMqCluster.RestartStoppedNodesAsync();
            }
        }
    }

    private static async Task Consumed(ClusterProbeLog log, Guid id, string when, RecordedLogs logs)
    {
        try
        {
            await log.Consumed(id).WaitAsync(Patience);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The probe published {when} was not consumed within {Patience.TotalMinutes} min.\n{logs}");
        }
    }

    private static void AssertQuorumOnEveryNode(RabbitMqCluster cluster, string queue, JsonElement json)
    {
        Assert.True(json.GetProperty("type").GetString() == "quorum", $"{queue} is not a quorum queue: {json}");
        var members = json.GetProperty("members").EnumerateArray().Select(x => x.GetString()!).Order().ToList();
        Assert.True(members.SequenceEqual(cluster.NodeNames.Order()), $"{queue}'s members are {string.Join(", ", members)}, not every node.");
    }

    private static IHost BuildHost(RabbitMqCluster cluster, string vhost, string connectionString, ClusterProbeLog log, RecordedLogs logs)
    {
        // Not Host.CreateApplicationBuilder's environment: the single node's Backbone__RabbitMq__Host may be set there,
        // and Host together with Nodes is refused.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var settings = new Dictionary<string, string?>
        {
            ["Backbone:Transport"] = "RabbitMq",
            ["Backbone:RabbitMq:VirtualHost"] = vhost,
            ["Backbone:RabbitMq:Username"] = cluster.Username,
            ["Backbone:RabbitMq:Password"] = cluster.Password,
            ["Backbone:RabbitMq:QuorumQueues"] = "true",
            ["ConnectionStrings:Cluster"] = connectionString,
        };
        for (var i = 0; i < cluster.Nodes.Count; i++)
        {
            settings[$"Backbone:RabbitMq:Nodes:{i}"] = cluster.Nodes[i];
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning).AddProvider(logs));
        builder.Services.AddSingleton(log);
        builder.AddServiceDatabase<ClusterDbContext>("Cluster");
        builder.AddBackboneBus(bus => bus.AddConsumer<ClusterProbeConsumer>());
        // The consumer's queue is bound before the first publish, or the broker drops the message at the exchange.
        builder.Services.Configure<MassTransitHostOptions>(options =>
        {
            options.WaitUntilStarted = true;
            options.StartTimeout = Patience;
        });
        return builder.Build();
    }
}
