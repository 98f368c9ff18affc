using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Raises <see cref="OutboxSignal"/> when a SaveChanges that added bus-outbox rows is committed: at once when it ran in
/// its own transaction, else when the caller's transaction commits (never on rollback).
/// NOTIFY is deliberately not sent inside the transaction: PostgreSQL serializes every committing transaction that
/// notified behind one lock, which took away group commit and cut publishing throughput several-fold here.
/// </summary>
public sealed class OutboxNotifyInterceptor(OutboxSignal signal) : ISaveChangesInterceptor, IDbTransactionInterceptor
{
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

    public ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } context && context.Database.CurrentTransaction is null
            && _added.TryGetValue(context, out var added) && added.Value)
        {
            added.Value = false;
            signal.Set();
        }

        return ValueTask.FromResult(result);
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
