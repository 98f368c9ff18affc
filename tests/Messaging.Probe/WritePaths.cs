using EventBackbone.Messaging.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Messaging.Probe;

/// <summary>
/// One way application code puts messages into the durable core. The conformance suite runs the same guarantees over
/// every path, in the test process and in the probe process it SIGKILLs: adding a path is one class here, listed in
/// <see cref="WritePaths.All"/>.
/// </summary>
public interface IWritePath
{
    /// <summary>The name the probe takes as <c>--Probe:WritePath</c>.</summary>
    string Name { get; }

    /// <summary>
    /// True when writing a transaction again is harmless because the consumer inbox drops the repeat: a restarted
    /// probe then starts over instead of guessing which of its writes the broker already holds.
    /// </summary>
    bool RewritesAreDeduplicated { get; }

    /// <summary>False when <see cref="ScheduleAsync"/> refuses: the suite then checks that it refuses and writes nothing.</summary>
    bool CanSchedule { get; }

    /// <summary>What a host needs to write through this path (the relay consumer for the consumer-outbox paths).</summary>
    void ConfigureBus(IBusRegistrationConfigurator bus);

    /// <summary>
    /// Writes the transaction's messages in order as one unit of work that commits, or rolls back when
    /// <see cref="ProbeTransaction.Commit"/> is false. Each committed message is recorded in <c>sent_log</c>, in the
    /// same transaction where the path allows it. Rolled back on purpose, it returns normally.
    /// </summary>
    Task WriteAsync(IServiceProvider services, ProbeTransaction transaction, CancellationToken cancellationToken);

    /// <summary>
    /// Schedules <see cref="ProbeSchedule.Kept"/> and <see cref="ProbeSchedule.Cancelled"/>, then cancels the latter;
    /// returns once that is committed.
    /// </summary>
    /// <exception cref="NotSupportedException">The path cannot schedule: it must refuse, never send at once.</exception>
    Task ScheduleAsync(IServiceProvider services, ProbeSchedule schedule, CancellationToken cancellationToken);
}

public static class WritePaths
{
    public static readonly IReadOnlyList<IWritePath> All =
    [
        new EfCoreBusOutboxPath(),
        new GroupCommitPublisherPath(),
        new ConsumerOutboxPath(),
        new BatchedConsumerOutboxPath(),
    ];

    public static IWritePath Named(string name) =>
        All.SingleOrDefault(x => x.Name == name)
        ?? throw new ArgumentException($"Unknown write path '{name}': {string.Join(", ", All.Select(x => x.Name))}.");
}

/// <summary>(a) The scoped <see cref="IPublishEndpoint"/> and the caller's own DbContext transaction + SaveChanges.</summary>
public sealed class EfCoreBusOutboxPath : IWritePath
{
    public string Name => "ef-core-bus-outbox";

    public bool RewritesAreDeduplicated => false;

    public bool CanSchedule => true;

    public void ConfigureBus(IBusRegistrationConfigurator bus)
    {
    }

    public async Task WriteAsync(IServiceProvider services, ProbeTransaction transaction, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
        var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        await using var dbTransaction = await db.Database.BeginTransactionAsync(cancellationToken);
        foreach (var message in transaction.Messages)
        {
            await publish.Publish(message, x => x.MessageId = message.Id, cancellationToken);
            db.SentLog.Add(new SentRecord { Sequence = message.Sequence, MessageId = message.Id });
        }

        await db.SaveChangesAsync(cancellationToken);
        if (transaction.Commit)
        {
            await dbTransaction.CommitAsync(cancellationToken);
        }
        else
        {
            await dbTransaction.RollbackAsync(cancellationToken);
        }
    }

    public async Task ScheduleAsync(IServiceProvider services, ProbeSchedule schedule, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var scheduler = scope.ServiceProvider.GetRequiredService<IMessageScheduler>();
        var (kept, cancelled, due) = (schedule.Kept, schedule.Cancelled, DateTime.UtcNow + schedule.Delay);
        await scheduler.ScheduleSend(schedule.Destination, due, kept, Pipe.Execute<SendContext>(x => x.MessageId = kept.Id), cancellationToken);
        var toCancel = await scheduler.ScheduleSend(
            schedule.Destination, due, cancelled, Pipe.Execute<SendContext>(x => x.MessageId = cancelled.Id), cancellationToken);
        await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SaveChangesAsync(cancellationToken);
        await scheduler.CancelScheduledSend(schedule.Destination, toCancel.TokenId, cancellationToken);
    }
}

/// <summary>
/// (b) The group-commit publisher, for callers without a business transaction: concurrent callers share one round trip
/// and one transaction, each with its own outbox group. The sent log is the caller's own statement in that transaction
/// (<see cref="IDurableBatchWriter{TItem, TResult}"/>, as the webhook edge writes its receipts), so a kill can never
/// leave a committed transaction unrecorded.
/// </summary>
public sealed class GroupCommitPublisherPath : IWritePath
{
    private static readonly SentLogWriter Writer = new();

    public string Name => "group-commit-publisher";

    public bool RewritesAreDeduplicated => false;

    public bool CanSchedule => true;

    public void ConfigureBus(IBusRegistrationConfigurator bus)
    {
    }

    public async Task WriteAsync(IServiceProvider services, ProbeTransaction transaction, CancellationToken cancellationToken)
    {
        var publisher = services.GetRequiredService<IDurablePublisher>();
        if (transaction.Commit)
        {
            await publisher.WriteAsync(Writer, transaction, cancellationToken);
            return;
        }

        try
        {
            // A caller that fails while publishing: none of its messages may be written or sent.
            await publisher.PublishAllAsync(async publish =>
            {
                foreach (var message in transaction.Messages)
                {
                    await publish.Publish(message, x => x.MessageId = message.Id, cancellationToken);
                }

                throw new ProbeRollbackException(transaction.Number);
            }, cancellationToken);
        }
        catch (ProbeRollbackException)
        {
        }
    }

    public async Task ScheduleAsync(IServiceProvider services, ProbeSchedule schedule, CancellationToken cancellationToken)
    {
        var publisher = services.GetRequiredService<IDurablePublisher>();
        var due = DateTime.UtcNow + schedule.Delay;
        await publisher.SchedulePublishAsync(due, schedule.Kept, x => x.MessageId = schedule.Kept.Id, cancellationToken);
        var toCancel = await publisher.SchedulePublishAsync(due, schedule.Cancelled, x => x.MessageId = schedule.Cancelled.Id, cancellationToken);
        await publisher.CancelScheduledPublishAsync(toCancel, cancellationToken);
    }

    /// <summary>Each transaction's messages as its own group, and its sent-log rows in the same commit.</summary>
    private sealed class SentLogWriter : IDurableBatchWriter<ProbeTransaction, bool>
    {
        public async Task<IReadOnlyList<bool>> PrepareAsync(IReadOnlyList<ProbeTransaction> items, DurableBatch batch, CancellationToken cancellationToken)
        {
            for (var item = 0; item < items.Count; item++)
            {
                var publish = batch.PublishEndpointFor(item);
                foreach (var message in items[item].Messages)
                {
                    await publish.Publish(message, x => x.MessageId = message.Id, cancellationToken);
                    batch.Add(new NpgsqlBatchCommand("INSERT INTO sent_log (sequence, message_id) VALUES ($1, $2)")
                    {
                        Parameters = { new() { Value = message.Sequence }, new() { Value = message.Id } },
                    });
                }
            }

            return [.. items.Select(_ => true)];
        }
    }
}

/// <summary>(c) What a consumer publishes inside its inbox transaction, one transaction per consumed message.</summary>
public class ConsumerOutboxPath : IWritePath
{
    public virtual string Name => "consumer-outbox";

    /// <summary>The relay's inbox drops a transaction published again.</summary>
    public bool RewritesAreDeduplicated => true;

    public bool CanSchedule => true;

    public virtual void ConfigureBus(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<RelayConsumer, SingleTransactionRelayDefinition>();

    /// <summary>Published straight to the broker (the root bus, with confirms): the relay consumer does the writing.</summary>
    public Task WriteAsync(IServiceProvider services, ProbeTransaction transaction, CancellationToken cancellationToken) =>
        services.GetRequiredService<IBus>().Publish(transaction, x => x.MessageId = transaction.MessageId, cancellationToken);

    /// <summary>Committed when the relay's inbox row for the schedule message exists (it commits with the schedule).</summary>
    public async Task ScheduleAsync(IServiceProvider services, ProbeSchedule schedule, CancellationToken cancellationToken)
    {
        var messageId = NewId.NextGuid();
        await services.GetRequiredService<IBus>().Publish(schedule, x => x.MessageId = messageId, cancellationToken);
        while (true)
        {
            await using var scope = services.CreateAsyncScope();
            var committed = await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().Database
                .SqlQuery<long>($"SELECT count(*) AS \"Value\" FROM inbox_state WHERE message_id = {messageId}")
                .SingleAsync(cancellationToken);
            if (committed > 0)
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}

/// <summary>(d) The consumer outbox with batched inbox transactions; see <see cref="BatchedRelayDefinition"/>.</summary>
public sealed class BatchedConsumerOutboxPath : ConsumerOutboxPath
{
    public override string Name => "consumer-outbox-batched";

    public override void ConfigureBus(IBusRegistrationConfigurator bus) =>
        bus.AddConsumer<RelayConsumer, BatchedRelayDefinition>();
}
