using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Outbox;

internal static class OutboxScheduling
{
    /// <summary>
    /// Deletes a scheduled group that is not yet being delivered. Rows already leased by a delivery service are left:
    /// they are being sent now, and the saga's own token check ignores a stale timeout. A group in its backoff after a
    /// failed send (lock_id NULL, locked_until in the future) is not leased, and is deleted.
    /// </summary>
    public static async Task DeleteScheduledAsync(DbContext db, Guid tokenId, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlRawAsync($$"""
            WITH cancelled AS (
                DELETE FROM {{OutboxModel.OutboxStateTable}}
                WHERE schedule_token_id = {0} AND (lock_id IS NULL OR locked_until < now())
                RETURNING outbox_id)
            DELETE FROM {{OutboxModel.OutboxMessagesTable}} WHERE outbox_id IN (SELECT outbox_id FROM cancelled)
            """, [tokenId], cancellationToken);
    }
}
