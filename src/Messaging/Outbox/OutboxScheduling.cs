using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Outbox;

internal static class OutboxScheduling
{
    /// <summary>
    /// Deletes a scheduled group that is not yet being delivered. Rows already leased by a delivery service are left:
    /// they are being sent now, and the saga's own token check ignores a stale timeout.
    /// </summary>
    public static async Task DeleteScheduledAsync(DbContext db, Guid tokenId, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            WITH cancelled AS (
                DELETE FROM outbox_state
                WHERE schedule_token_id = {tokenId} AND (locked_until IS NULL OR locked_until < now())
                RETURNING outbox_id)
            DELETE FROM outbox_messages WHERE outbox_id IN (SELECT outbox_id FROM cancelled)
            """, cancellationToken);
    }
}
