using System.Data;
using System.Diagnostics;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Outbox;
using MassTransit;
using MassTransit.DependencyInjection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Messaging.Inbox;

/// <summary>
/// Exactly-once effect per (MessageId, consumer): one transaction records the inbox row, runs the consumer on the
/// same DbContext and stores what it published; those messages go to the broker only after the commit.
/// A redelivery, concurrent or after a crash between commit and ack, finds the committed row and does not run the
/// consumer again; if the crash also lost the delivery, the stored messages are delivered then.
/// By default deliveries that are at the filter together share one transaction (<see cref="InboxBatchCommit{TDbContext,TMessage}"/>);
/// an endpoint declaring <see cref="InboxBatching.PerMessage"/>, and every delivery of a batch that failed as a whole,
/// takes the single-delivery path below.
/// </summary>
internal sealed class InboxConsumeFilter<TDbContext, TMessage>(
    IConsumeScopeProvider scopes,
    IServiceProvider services,
    InboxConsumerOptions options,
    Func<InboxBatching> declaredBatching,
    Func<Func<ConsumeContext<TMessage>, Guid>?> instanceIdOf)
    : IFilter<ConsumeContext<TMessage>>
    where TDbContext : DbContext
    where TMessage : class
{
    private readonly Lazy<InboxBatchCommit<TDbContext, TMessage>?> _batch = new(() =>
        declaredBatching() is { IsPerMessage: false } batching ? new InboxBatchCommit<TDbContext, TMessage>(scopes, services, options, batching, instanceIdOf()) : null);

    public void Probe(ProbeContext context) => context.CreateFilterScope("backbone-inbox");

    public async Task Send(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next)
    {
        var messageId = context.GetOriginalMessageId() ?? context.MessageId
            ?? throw new MessageException(typeof(TMessage), "A MessageId is required to consume through the inbox.");
        var timer = Stopwatch.StartNew();
        if (_batch.Value is { } batch)
        {
            var outcome = await batch.ConsumeAsync(context, next, messageId);
            if (outcome == InboxBatchOutcome.Duplicate)
            {
                // Tell MassTransit the message was handled, or it would move it to the _skipped queue.
                await context.NotifyConsumed(context, timer.Elapsed, options.ConsumerType);
            }

            if (outcome != InboxBatchOutcome.Replay)
            {
                return;
            }
        }

        await SendSingleAsync(context, next, messageId, timer);
    }

    private async Task SendSingleAsync(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next, Guid messageId, Stopwatch timer)
    {
        await using var scope = await scopes.GetScope(context);
        var db = scope.GetService<TDbContext>();
        var metrics = scope.GetService<MessagingMetrics>();
        var cancellationToken = context.CancellationToken;

        await using var transaction = await db.Database.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
        // Inserting first, on conflict updating, both locks the row for this transaction and makes a concurrent copy
        // of the same message wait here until we commit; it then finds the row and skips the consumer. The row is
        // inserted as consumed and delivered: if the consumer fails, the transaction and the row roll back together,
        // so an existing row always means "consumed", and one round trip is saved per message.
        var state = await UpsertInboxAsync(db, transaction, messageId, cancellationToken);

        if (state.Inserted)
        {
            await ConsumeAsync(context, scope, db, transaction, messageId, next);
            return;
        }

        if (!state.Delivered)
        {
            // Consumed and committed before, but its messages never reached the broker (crash after commit).
            await DeliverStoredAsync(context, db, messageId, metrics, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        else
        {
            await transaction.CommitAsync(cancellationToken);
            metrics.DuplicatesDropped.Add(1);
        }

        // Tell MassTransit the message was handled, or it would move it to the _skipped queue.
        await context.NotifyConsumed(context, timer.Elapsed, options.ConsumerType);
    }

    private async Task ConsumeAsync(
        ConsumeContext<TMessage> context,
        IConsumeScopeContext<TMessage> scope,
        TDbContext db,
        IDbContextTransaction transaction,
        Guid messageId,
        IPipe<ConsumeContext<TMessage>> next)
    {
        var cancellationToken = context.CancellationToken;
        var inbox = new InboxConsumeContext<TDbContext, TMessage>(scope.Context, options, scope.GetService<IServiceProvider>(), db, messageId);
        var statements = InboxSavepointInterceptor.Instance.Watch(db);
        try
        {
            using (scope.PushConsumeContext(inbox))
            {
                await next.Send(inbox);
                await inbox.ConsumeCompleted;
            }

            await db.SaveChangesAsync(cancellationToken);
            await statements.ThrowIfSwallowedAsync(
                (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction(), options.ConsumerType);
        }
        finally
        {
            InboxSavepointInterceptor.Instance.Disarm(db);
        }

        var outgoing = inbox.Outgoing;
        if (outgoing.Count > 0)
        {
            // Published messages wait in the consumer outbox until sent; "not delivered" lets a redelivery send them.
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"UPDATE inbox_state SET delivered = NULL WHERE message_id = {messageId} AND consumer_id = {options.ConsumerId}",
                cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        // A tracked entity would be returned by a later query in this scope instead of the row as committed.
        db.ChangeTracker.Clear();

        if (outgoing.Count > 0)
        {
            await SendAsync(context, outgoing, scope.GetService<MessagingMetrics>(), cancellationToken);
            await MarkDeliveredAsync(db, messageId, cancellationToken);
        }
    }

    private async Task DeliverStoredAsync(ConsumeContext context, TDbContext db, Guid messageId, MessagingMetrics metrics, CancellationToken cancellationToken)
    {
        var stored = await db.Set<OutboxMessage>().AsNoTracking()
            .Where(x => x.InboxMessageId == messageId && x.InboxConsumerId == options.ConsumerId)
            .OrderBy(x => x.SequenceNumber)
            .ToListAsync(cancellationToken);
        await SendAsync(context, stored, metrics, cancellationToken);
        await MarkDeliveredAsync(db, messageId, cancellationToken);
    }

    private async Task MarkDeliveredAsync(TDbContext db, Guid messageId, CancellationToken cancellationToken) =>
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            WITH sent AS (
                DELETE FROM outbox_messages WHERE inbox_message_id = {messageId} AND inbox_consumer_id = {options.ConsumerId})
            UPDATE inbox_state SET delivered = now() WHERE message_id = {messageId} AND consumer_id = {options.ConsumerId}
            """, cancellationToken);

    /// <summary>In order, through the original context: sending through the inbox context would capture them again.</summary>
    private static async Task SendAsync(ConsumeContext context, IReadOnlyList<OutboxMessage> messages, MessagingMetrics metrics, CancellationToken cancellationToken)
    {
        foreach (var message in messages)
        {
            await StoredMessageSender.SendAsync(context, message, cancellationToken);
            // Counted with the delivery service's: "delivered" means every outbox message that reached the broker.
            metrics.Delivered.Add(1);
        }
    }

    private async Task<InboxRow> UpsertInboxAsync(TDbContext db, IDbContextTransaction transaction, Guid messageId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO inbox_state (message_id, consumer_id, received, receive_count, consumed, delivered)
            VALUES ($1, $2, now(), 1, now(), now())
            ON CONFLICT (message_id, consumer_id) DO UPDATE SET receive_count = inbox_state.receive_count + 1
            RETURNING xmax = 0, delivered
            """, (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction());
        command.Parameters.AddWithValue(messageId);
        command.Parameters.AddWithValue(options.ConsumerId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new InboxRow(reader.GetBoolean(0), !reader.IsDBNull(1));
    }

    /// <param name="Inserted">True when this delivery created the row (xmax = 0): the first, so the consumer runs.</param>
    /// <param name="Delivered">Whether what the consumer published has reached the broker.</param>
    private sealed record InboxRow(bool Inserted, bool Delivered);
}
