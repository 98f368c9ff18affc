using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Inbox;

/// <summary>
/// Keeps the inbox small: rows older than the duplicate-detection window are deleted in bounded batches (short
/// transactions, no long lock), and consumer-outbox messages orphaned by a crash after the broker acknowledged their
/// message are handed to the bus outbox, so nothing is left undelivered and nothing accumulates.
/// </summary>
internal sealed class InboxCleanupService<TDbContext>(
    ServiceDataSource<TDbContext> database,
    DurableMessagingSettings settings,
    MessagingMetrics metrics,
    OutboxSignal signal,
    ILogger<InboxCleanupService<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(settings.CleanupInterval, stoppingToken);
                var removed = await RemoveExpiredAsync(stoppingToken);
                var adopted = await AdoptOrphansAsync(stoppingToken);
                if (removed > 0 || adopted > 0)
                {
                    logger.LogInformation("Inbox cleanup removed {Removed} expired rows and handed {Adopted} orphaned messages to the outbox",
                        removed, adopted);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception outage) when (DatabaseFailures.IsUnavailable(outage))
            {
                logger.LogWarning("Inbox cleanup skipped: the database is unreachable ({Reason})", outage.Message);
            }
            catch (Exception failure)
            {
                // A deadlock with a batch's inbox upsert, a statement timeout: the next interval tries again. Escaping,
                // it would stop the host (BackgroundService's default), and with it every consumer, over housekeeping.
                logger.LogError(failure, "Inbox cleanup failed; it runs again after {Interval}", settings.CleanupInterval);
            }
        }
    }

    public async Task<int> RemoveExpiredAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            await using var command = database.DataSource.CreateCommand($"""
                DELETE FROM {OutboxModel.InboxStateTable} WHERE ctid IN (
                    SELECT ctid FROM {OutboxModel.InboxStateTable}
                    WHERE received < now() - $1 AND delivered IS NOT NULL
                    LIMIT $2)
                """);
            command.Parameters.AddWithValue(settings.DuplicateDetectionWindow);
            command.Parameters.AddWithValue(settings.CleanupBatchSize);
            var removed = await command.ExecuteNonQueryAsync(cancellationToken);
            total += removed;
            metrics.InboxCleaned.Add(removed);
            if (removed < settings.CleanupBatchSize)
            {
                return total;
            }
        }
    }

    /// <summary>Consumed, never marked delivered, and old: its broker message is gone, so nobody else will send these.</summary>
    public async Task<int> AdoptOrphansAsync(CancellationToken cancellationToken)
    {
        await using var command = database.DataSource.CreateCommand($"""
            WITH orphans AS (
                SELECT message_id, consumer_id, gen_random_uuid() AS outbox_id FROM {OutboxModel.InboxStateTable}
                WHERE delivered IS NULL AND consumed < now() - $1
                LIMIT $2
                FOR UPDATE SKIP LOCKED),
            groups AS (
                INSERT INTO {OutboxModel.OutboxStateTable} (outbox_id, attempts) SELECT outbox_id, 0 FROM orphans),
            moved AS (
                UPDATE {OutboxModel.OutboxMessagesTable} m SET outbox_id = o.outbox_id, inbox_message_id = NULL, inbox_consumer_id = NULL
                FROM orphans o WHERE m.inbox_message_id = o.message_id AND m.inbox_consumer_id = o.consumer_id)
            UPDATE {OutboxModel.InboxStateTable} i SET delivered = now()
            FROM orphans o WHERE i.message_id = o.message_id AND i.consumer_id = o.consumer_id
            """);
        command.Parameters.AddWithValue(settings.OrphanAfter);
        command.Parameters.AddWithValue(settings.CleanupBatchSize);
        var adopted = await command.ExecuteNonQueryAsync(cancellationToken);
        if (adopted > 0)
        {
            signal.Set();
        }

        return adopted;
    }
}
