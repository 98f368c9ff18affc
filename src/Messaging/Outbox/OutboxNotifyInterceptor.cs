using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// After a SaveChanges that added bus-outbox rows: <c>NOTIFY</c> on the same connection (PostgreSQL delivers it only
/// if and when the transaction commits, to every instance listening), and wake this process's delivery service on
/// commit. Without it, other instances would wait a full poll interval before delivering.
/// </summary>
public sealed class OutboxNotifyInterceptor(OutboxSignal signal) : ISaveChangesInterceptor, IDbTransactionInterceptor
{
    public const string Channel = "backbone_outbox";

    // Per DbContext: the interceptor is shared by every context instance.
    private readonly ConditionalWeakTable<DbContext, StrongBox<bool>> _added = [];

    public ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context
            && context.ChangeTracker.Entries<OutboxState>().Any(entry => entry.State == EntityState.Added))
        {
            _added.AddOrUpdate(context, new StrongBox<bool>(true));
        }

        return ValueTask.FromResult(result);
    }

    public async ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is not { } context || !_added.TryGetValue(context, out var added) || !added.Value)
        {
            return result;
        }

        await context.Database.ExecuteSqlRawAsync($"NOTIFY {Channel}", cancellationToken);
        if (context.Database.CurrentTransaction is null)
        {
            added.Value = false;
            signal.Set();
        }

        return result;
    }

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context && _added.TryGetValue(context, out var added) && added.Value)
        {
            added.Value = false;
            signal.Set();
        }

        return Task.CompletedTask;
    }

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context && _added.TryGetValue(context, out var added))
        {
            added.Value = false;
        }

        return Task.CompletedTask;
    }
}
