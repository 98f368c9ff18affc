using EventBackbone.Bench.Harness;
using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Transport;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Bench.Contenders;

/// <summary>
/// EventBackbone's durable pipeline, composed exactly as a service host composes it: a durable publish, delivery by
/// the outbox delivery service, and a consumer behind the (batched) inbox that writes one effect row in the inbox's
/// transaction. The effect is reported once the receive pipeline (and with it the inbox transaction) has completed,
/// so the figure includes the consumer's commit. The publisher has no business data of its own to commit, so by
/// default it publishes the way such a caller does, through <see cref="IDurablePublisher"/> (concurrent publishes
/// share a commit); <c>eventbackbone-durable-efcore</c> publishes inside its own DbContext transaction instead, the
/// path of a caller that commits business rows with its messages — one transaction per message, as Wolverine's
/// <c>IDbContextOutbox</c> contender does. With a <paramref name="topology"/> (<c>--topology</c>) it runs on that broker
/// and database instead of the run's own, configured as an operator would (<c>Backbone:RabbitMq:Nodes</c>,
/// <c>QuorumQueues</c>, a multi-host connection string), and its name says where: <c>eventbackbone-durable@cluster</c>.
/// </summary>
public sealed class EventBackboneDurableContender(bool publishInOwnTransaction = false, BenchTopology? topology = null) : IContender
{
    private IHost? _host;
    private IDurablePublisher? _publisher;

    public string Name => (publishInOwnTransaction ? "eventbackbone-durable-efcore" : "eventbackbone-durable")
        + (topology is null ? string.Empty : $"@{topology.Name}");

    /// <summary>The running host, for the inbox growth check (its configuration, database and cleanup service).</summary>
    internal IServiceProvider Services => _host?.Services ?? throw new InvalidOperationException("The contender has not started.");

    /// <summary>Receives that reported no effect, for the inbox growth check's redelivered copies.</summary>
    internal ReceiveTally Receives { get; } = new();

    /// <summary>
    /// Set before <see cref="StartAsync"/> when the inbox growth check will run: the check calls the host's inbox
    /// cleanup itself, and the timed run (every minute by default) would otherwise delete the expired backlog it
    /// plants before it is measured, or race the measured run for the same rows.
    /// </summary>
    internal bool TimedInboxCleanupPaused { get; set; }

    public async Task StartAsync(BenchEnvironment environment, IArrivalSink arrivals, CancellationToken cancellationToken)
    {
        var settings = topology?.Servers ?? environment.Settings;
        var virtualHost = await environment.CreateVirtualHostAsync(settings);
        var database = await environment.CreateDatabaseAsync("bench_backbone", settings);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Backbone:Transport"] = "RabbitMq",
            ["Backbone:RabbitMq:Host"] = settings.RabbitHost,
            ["Backbone:RabbitMq:Port"] = settings.RabbitPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Backbone:RabbitMq:VirtualHost"] = virtualHost.Name,
            ["Backbone:RabbitMq:Username"] = settings.RabbitUsername,
            ["Backbone:RabbitMq:Password"] = settings.RabbitPassword,
            // Bounded: the contenders of one run stay connected together, and PostgreSQL allows 100 connections; EF
            // Core's pool and the durable core's data source each take up to this many.
            ["ConnectionStrings:Bench"] = database.ConnectionString + ";Maximum Pool Size=30" + BenchEnvironment.PoolIdleLifetime,
        });
        if (topology is not null)
        {
            builder.Configuration.AddInMemoryCollection(TopologySettings(topology));
        }

        if (TimedInboxCleanupPaused)
        {
            // The longest interval the setting accepts: the first timed run comes a day after the host started, long
            // after any bench run has ended.
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                [TimedCleanupIntervalKey] = PausedCleanupInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            });
        }

        builder.AddServiceDatabase<BenchDbContext>("Bench");
        builder.AddBackboneBus(bus => bus.AddConsumer<DurableEffectConsumer, DurableEffectConsumerDefinition>());
        builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
        _host = builder.Build();
        await _host.StartAsync(cancellationToken);
        _host.Services.GetRequiredService<IBus>().ConnectReceiveObserver(new CommittedEffectObserver(arrivals, Receives));
        _publisher = _host.Services.GetRequiredService<IDurablePublisher>();
        if (topology is not null)
        {
            Placement = await DescribeQueuesAsync(settings, virtualHost.Name, topology.QuorumQueues, cancellationToken);
        }
    }

    /// <summary>Under <c>--topology</c>: each queue's type, leader and members as the broker reports them once started.</summary>
    internal string? Placement { get; private set; }

    /// <summary>
    /// Reads the vhost's queues back from the broker and fails when one is not of the type the topology is about: a
    /// "quorum" figure measured on classic queues (a setting that did not reach the bus) would be a wrong number, not
    /// a slow one.
    /// </summary>
    private static async Task<string> DescribeQueuesAsync(
        TestInfrastructure.InfrastructureSettings settings, string virtualHost, bool quorum, CancellationToken cancellationToken)
    {
        using var management = TestInfrastructure.RabbitMqVirtualHost.ManagementClient(settings);
        using var queues = System.Text.Json.JsonDocument.Parse(await management.GetStringAsync(
            new Uri($"api/queues/{Uri.EscapeDataString(virtualHost)}", UriKind.Relative), cancellationToken));
        var described = new List<string>();
        foreach (var queue in queues.RootElement.EnumerateArray())
        {
            var name = queue.GetProperty("name").GetString();
            var type = queue.TryGetProperty("type", out var t) ? t.GetString() : "classic";
            if ((type == "quorum") != quorum)
            {
                throw new InvalidOperationException($"Queue {name} in vhost {virtualHost} is {type}, the topology wants {(quorum ? "quorum" : "classic")} queues.");
            }

            var where = queue.TryGetProperty("leader", out var leader)
                ? $"leader {leader.GetString()}, {(queue.TryGetProperty("members", out var members) ? members.GetArrayLength() : 0)} members"
                : $"on {(queue.TryGetProperty("node", out var node) ? node.GetString() : "?")}";
            described.Add($"{name} ({type}, {where})");
        }

        return described.Count > 0
            ? string.Join("; ", described)
            : throw new InvalidOperationException($"The bus declared no queue in vhost {virtualHost}.");
    }

    /// <summary>
    /// The broker settings of a topology, over whatever the environment holds: after <c>eval "$(bash scripts/infra.sh
    /// cluster env)"</c> the process has <c>Backbone__RabbitMq__Nodes__0…2</c>, which the single node's host must not
    /// see (Host and Nodes together stop a host at start), and the cluster's host must not see the single node's Host.
    /// A blank value removes a setting (<c>SettingsReader.Optional</c>, <c>RabbitMqNode.LoadList</c>).
    /// </summary>
    private static Dictionary<string, string?> TopologySettings(BenchTopology topology)
    {
        var values = new Dictionary<string, string?>
        {
            ["Backbone:RabbitMq:QuorumQueues"] = topology.QuorumQueues ? "true" : "false",
        };
        var inEnvironment = Environment.GetEnvironmentVariables().Keys.OfType<string>()
            .Where(key => key.StartsWith("Backbone__RabbitMq__Nodes__", StringComparison.Ordinal))
            .Select(key => key.Replace("__", ":", StringComparison.Ordinal));
        foreach (var key in inEnvironment)
        {
            values[key] = string.Empty;
        }

        if (topology.BrokerNodes.Count > 0)
        {
            values["Backbone:RabbitMq:Host"] = string.Empty;
            for (var i = 0; i < topology.BrokerNodes.Count; i++)
            {
                values[$"{RabbitMqNode.NodesKey}:{i.ToString(System.Globalization.CultureInfo.InvariantCulture)}"] = topology.BrokerNodes[i];
            }
        }

        return values;
    }

    internal const string TimedCleanupIntervalKey = "Backbone:Messaging:CleanupInterval";

    internal static readonly TimeSpan PausedCleanupInterval = TimeSpan.FromHours(24);

    public async Task PublishAsync(BenchMessage message, CancellationToken cancellationToken)
    {
        if (!publishInOwnTransaction)
        {
            // Returns once committed (with whatever other publishes were queued at the same moment).
            await _publisher!.PublishAsync(message, context => context.MessageId = message.MessageId, cancellationToken);
            return;
        }

        await using var scope = _host!.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BenchDbContext>();
        await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>()
            .Publish(message, context => context.MessageId = message.MessageId, cancellationToken);
        // One SaveChanges = one transaction: the outbox rows commit here, and only then may the broker see them.
        await db.SaveChangesAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync();
            _host.Dispose();
        }
    }
}

public sealed class BenchEffect
{
    public Guid MessageId { get; set; }

    public int Sequence { get; set; }
}

public sealed class BenchDbContext(DbContextOptions<BenchDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddBackboneMessaging();
        modelBuilder.Entity<BenchEffect>().ToTable("effects").HasKey(x => x.MessageId);
    }
}

/// <summary>The consumer's effect: one row, in the inbox's transaction.</summary>
public sealed class DurableEffectConsumer(BenchDbContext db) : IConsumer<BenchMessage>
{
    public Task Consume(ConsumeContext<BenchMessage> context)
    {
        db.Add(new BenchEffect { MessageId = context.Message.MessageId, Sequence = context.Message.Sequence });
        // Carried on the receive context to the observer, which runs after the inbox transaction committed.
        context.ReceiveContext.GetOrAddPayload(() => new PendingEffect(context.Message));
        return Task.CompletedTask;
    }
}

public sealed class DurableEffectConsumerDefinition : ConsumerDefinition<DurableEffectConsumer>
{
    public DurableEffectConsumerDefinition()
    {
        // As many consumer transactions in flight as raw-rabbitmq-outbox's consumer, so PostgreSQL can group their commits.
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<DurableEffectConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 64;
        // The deliveries in flight share inbox transactions: the durable core's default, declared where it is measured.
        endpointConfigurator.UseDurableInbox(InboxBatching.Default);
    }
}

/// <summary>
/// Receives that reported no effect: a redelivered copy must end up in one of these, so an inbox that failed to
/// deduplicate it (the consumer ran again; its effect row then violates the key) is counted, not silently dropped.
/// </summary>
internal sealed class ReceiveTally
{
    private int _skipped;
    private int _faulted;

    /// <summary>Completed without running the consumer: the inbox found the message already consumed.</summary>
    public int Skipped => Volatile.Read(ref _skipped);

    /// <summary>Faulted: the consumer or its inbox transaction failed, and the effect was not reported.</summary>
    public int Faulted => Volatile.Read(ref _faulted);

    public void CountSkipped() => Interlocked.Increment(ref _skipped);

    public void CountFaulted() => Interlocked.Increment(ref _faulted);
}

/// <summary>Reports an effect after the whole receive pipeline, i.e. after the inbox transaction committed.</summary>
internal sealed class CommittedEffectObserver(IArrivalSink arrivals, ReceiveTally receives) : IReceiveObserver
{
    public Task PreReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostReceive(ReceiveContext context)
    {
        if (context.IsFaulted)
        {
            receives.CountFaulted();
        }
        else if (context.TryGetPayload<PendingEffect>(out var effect))
        {
            arrivals.Arrived(effect.Message);
        }
        else
        {
            // The only consumer here always leaves the payload: no payload means the inbox skipped it.
            receives.CountSkipped();
        }

        return Task.CompletedTask;
    }

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType)
        where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception)
        where T : class => Task.CompletedTask;

    public Task ReceiveFault(ReceiveContext context, Exception exception)
    {
        receives.CountFaulted();
        return Task.CompletedTask;
    }
}

internal sealed record PendingEffect(BenchMessage Message);
