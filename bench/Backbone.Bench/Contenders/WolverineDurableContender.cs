using System.Data.Common;
using EventBackbone.Bench.Harness;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.EntityFrameworkCore;
using Wolverine.Postgresql;
using Wolverine.RabbitMQ;

namespace EventBackbone.Bench.Contenders;

/// <summary>
/// Wolverine (WolverineFx 6.62) composed the way its durability guide recommends for EF Core on PostgreSQL over
/// RabbitMQ: PostgreSQL message storage, a durable outbox on the sending endpoint and a durable inbox on the
/// listener, <c>IDbContextOutbox&lt;T&gt;</c> for publishing outside a handler, and EF Core transactional middleware
/// (<c>AutoApplyTransactions</c>) around the handler, so the effect row and the inbox's "handled" mark commit in one
/// transaction. The effect is reported by an EF Core transaction interceptor after that commit.
/// </summary>
/// <param name="publisherConfirms">
/// Off by default, as Wolverine's RabbitMQ performance guide recommends when the durable outbox is on ("the outbox
/// provides the delivery guarantee and confirms mostly add latency"). Off, Wolverine deletes an outbox row once the
/// publish frame is written to the socket, so a broker crash before the broker stored the message loses it — a weaker
/// guarantee than the other durable contenders, which delete only after the confirm. On, the variant
/// <c>wolverine-durable-confirms</c> shows what the stronger guarantee costs in Wolverine's sender.
/// </param>
public sealed class WolverineDurableContender(bool publisherConfirms = false) : IContender
{
    private const string Queue = "bench-wolverine";

    /// <summary>Wolverine's message tables live in their own schema, as its samples do; EF Core maps them there too.</summary>
    private const string Schema = "wolverine";

    private IHost? _host;

    public string Name => publisherConfirms ? "wolverine-durable-confirms" : "wolverine-durable";

    public async Task StartAsync(BenchEnvironment environment, IArrivalSink arrivals, CancellationToken cancellationToken)
    {
        var virtualHost = await environment.CreateVirtualHostAsync();
        var database = await environment.CreateDatabaseAsync("bench_wolverine");
        var settings = environment.Settings;

        // The same pool bound as eventbackbone-durable: the contenders of one run stay connected together, and
        // PostgreSQL allows 100 connections; Wolverine's data source and EF Core's connections each take up to this.
        var connectionString = database.ConnectionString + $";Maximum Pool Size={ConsumerSideSettings.MaxPoolSize}"
            + BenchEnvironment.PoolIdleLifetime;
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand(
                "CREATE TABLE effects (message_id uuid PRIMARY KEY, sequence int NOT NULL)", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseWolverine(opts =>
        {
            // Only this handler: conventional discovery would also pick up the MassTransit consumers of this assembly.
            opts.Discovery.DisableConventionalDiscovery().IncludeType(typeof(WolverineEffectHandler));

            opts.PersistMessagesWithPostgresql(connectionString, Schema);
            // Registers the DbContext with singleton options (the guide calls it "a significant performance gain")
            // and maps Wolverine's envelope tables into it, so outbox rows are written by the same SaveChanges.
            opts.Services.AddDbContextWithWolverineIntegration<WolverineBenchDbContext>(
                db => db.UseNpgsql(connectionString).AddInterceptors(new CommittedEffectInterceptor(arrivals)),
                Schema);
            opts.UseEntityFrameworkCoreTransactions();
            opts.Policies.AutoApplyTransactions();

            opts.UseRabbitMq(factory =>
                {
                    factory.HostName = settings.RabbitHost;
                    factory.Port = settings.RabbitPort;
                    factory.VirtualHost = virtualHost.Name;
                    factory.UserName = settings.RabbitUsername;
                    factory.Password = settings.RabbitPassword;
                })
                .AutoProvision()
                .ConfigureChannelCreation(channel =>
                {
                    channel.PublisherConfirmationsEnabled = publisherConfirms;
                    channel.PublisherConfirmationTrackingEnabled = publisherConfirms;
                });

            opts.PublishMessage<BenchMessage>().ToRabbitQueue(Queue).UseDurableOutbox();
            opts.ListenToRabbitQueue(Queue)
                .UseDurableInbox()
                // As many handler transactions in flight as every other contender's consumer, and the same prefetch
                // (Wolverine's defaults would be max(cores, 5) = 5 here and 2 × parallelism).
                .MaximumParallelMessages(ConsumerSideSettings.ConcurrentMessages)
                .PreFetchCount(ConsumerSideSettings.Prefetch);
        });
        _host = builder.Build();
        await _host.StartAsync(cancellationToken);
    }

    public async Task PublishAsync(BenchMessage message, CancellationToken cancellationToken)
    {
        await using var scope = _host!.Services.CreateAsyncScope();
        var outbox = scope.ServiceProvider.GetRequiredService<IDbContextOutbox<WolverineBenchDbContext>>();
        await outbox.PublishAsync(message);
        // One SaveChanges = one transaction with the outbox row; the flush hands the envelope to the durable sender.
        await outbox.SaveChangesAndFlushMessagesAsync(cancellationToken);
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

public sealed class WolverineBenchDbContext(DbContextOptions<WolverineBenchDbContext> options) : DbContext(options)
{
    /// <summary>Effects added in this unit of work, reported once its transaction committed.</summary>
    internal List<BenchMessage> PendingArrivals { get; } = [];

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        // The same table and columns as eventbackbone-durable's (which gets snake_case from its naming convention).
        modelBuilder.Entity<BenchEffect>(effect =>
        {
            effect.ToTable("effects").HasKey(x => x.MessageId);
            effect.Property(x => x.MessageId).HasColumnName("message_id");
            effect.Property(x => x.Sequence).HasColumnName("sequence");
        });
}

/// <summary>The effect: one row, in the transaction Wolverine's EF Core middleware opens and commits with the inbox mark.</summary>
public static class WolverineEffectHandler
{
    public static void Handle(BenchMessage message, WolverineBenchDbContext db)
    {
        db.Add(new BenchEffect { MessageId = message.MessageId, Sequence = message.Sequence });
        db.PendingArrivals.Add(message);
    }
}

/// <summary>
/// Reports effects when the DbContext's transaction has committed: after the handler, its SaveChanges and the inbox's
/// "handled" mark, so the figure includes the consumer's commit (a rolled-back effect is never reported).
/// </summary>
internal sealed class CommittedEffectInterceptor(IArrivalSink arrivals) : DbTransactionInterceptor
{
    public override Task TransactionCommittedAsync(
        DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is WolverineBenchDbContext { PendingArrivals.Count: > 0 } db)
        {
            foreach (var message in db.PendingArrivals)
            {
                arrivals.Arrived(message);
            }

            db.PendingArrivals.Clear();
        }

        return Task.CompletedTask;
    }
}
