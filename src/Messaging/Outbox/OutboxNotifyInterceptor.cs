using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Acts when a SaveChanges that added bus-outbox groups is committed — at once when it ran in its own transaction,
/// else when the caller's transaction commits, never on rollback: groups leased to this process's delivery service
/// are handed to it in memory (<see cref="OutboxHandoff"/>); any other group raises <see cref="OutboxSignal"/>, which
/// wakes the claim query here and, by NOTIFY, on other instances.
/// NOTIFY is deliberately not sent inside the transaction: PostgreSQL serializes every committing transaction that
/// notified behind one lock, which took away group commit and cut publishing throughput several-fold here.
/// </summary>
internal sealed class OutboxNotifyInterceptor(OutboxSignal signal, OutboxHandoff handoff) : ISaveChangesInterceptor, IDbTransactionInterceptor
{
    // Per DbContext instance: the interceptor is shared by every context, and pooled contexts are reused across scopes.
    private readonly ConditionalWeakTable<DbContext, Pending> _pending = [];

    public InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        Capture(eventData.Context);
        return result;
    }

    public ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Capture(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        Saved(eventData.Context);
        return result;
    }

    public ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Saved(eventData.Context);
        return ValueTask.FromResult(result);
    }

    public void SaveChangesFailed(DbContextErrorEventData eventData) => Failed(eventData.Context);

    public Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Failed(eventData.Context);
        return Task.CompletedTask;
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) =>
        Committed(eventData.Context, eventData.TransactionId);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(eventData.Context, eventData.TransactionId);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Forget(eventData.Context);

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Forget(eventData.Context);
        return Task.CompletedTask;
    }

    /// <summary>Before the insert: which groups this SaveChanges writes, and the messages of those sent from memory.</summary>
    private void Capture(DbContext? context)
    {
        if (context is null)
        {
            return;
        }

        // One pass over the tracked entries (each Entries() call runs change detection over all of them again).
        List<OutboxState>? groups = null;
        Dictionary<Guid, List<OutboxMessage>>? messages = null;
        foreach (var entry in context.ChangeTracker.Entries())
        {
            if (entry.State != EntityState.Added)
            {
                continue;
            }

            if (entry.Entity is OutboxState group)
            {
                (groups ??= []).Add(group);
            }
            else if (entry.Entity is OutboxMessage { OutboxId: { } outboxId } message)
            {
                messages ??= [];
                if (!messages.TryGetValue(outboxId, out var groupMessages))
                {
                    messages[outboxId] = groupMessages = [];
                }

                groupMessages.Add(message);
            }
        }

        if (groups is null)
        {
            if (_pending.TryGetValue(context, out var idle))
            {
                idle.ClearSaving();
            }

            return;
        }

        var pending = _pending.GetOrCreateValue(context);
        pending.ClearSaving();
        foreach (var group in groups)
        {
            if (group.LockId is { } lockId && group.LockedUntil is { } lockedUntil && group.NotBefore is null)
            {
                pending.Saving.Add(new HandedOffGroup(group.OutboxId, lockId, lockedUntil,
                    messages is not null && messages.TryGetValue(group.OutboxId, out var groupMessages) ? groupMessages : []));
            }
            else
            {
                pending.SavingUnleased = true;
            }
        }
    }

    /// <summary>The insert succeeded; without a transaction of the caller's it is also committed.</summary>
    private void Saved(DbContext? context)
    {
        if (context is null || !_pending.TryGetValue(context, out var pending) || (pending.Saving.Count == 0 && !pending.SavingUnleased))
        {
            return;
        }

        var transactionId = context.Database.CurrentTransaction?.TransactionId;
        if (pending.TransactionId != transactionId)
        {
            // What an earlier transaction of this context saved and then abandoned (disposed without commit, which EF
            // Core's interceptors never hear of; then the context went back to the pool) was rolled back: never send it.
            pending.Saved.Clear();
            pending.SavedUnleased = false;
            pending.TransactionId = transactionId;
        }

        pending.Saved.AddRange(pending.Saving);
        pending.SavedUnleased |= pending.SavingUnleased;
        pending.ClearSaving();
        if (transactionId is null)
        {
            Release(context, pending);
        }
    }

    /// <summary>Not written (in a transaction, its savepoint was rolled back): the rows stay Added, a retry captures again.</summary>
    private void Failed(DbContext? context)
    {
        if (context is not null && _pending.TryGetValue(context, out var pending))
        {
            pending.ClearSaving();
        }
    }

    private void Committed(DbContext? context, Guid transactionId)
    {
        if (context is not null && _pending.TryGetValue(context, out var pending) && pending.TransactionId == transactionId)
        {
            Release(context, pending);
        }
    }

    private void Forget(DbContext? context)
    {
        if (context is not null && _pending.TryGetValue(context, out var pending))
        {
            pending.Reset();
        }
    }

    private void Release(DbContext context, Pending pending)
    {
        var wakeClaim = pending.SavedUnleased;
        foreach (var group in pending.Saved)
        {
            // Not taken (the delivery service stopped, or its lane is full): the lease runs out and a claim sends it.
            handoff.TryHandOff(context.GetType(), group);
        }

        pending.Reset();
        if (wakeClaim)
        {
            signal.Set();
        }
    }

    private sealed class Pending
    {
        public Guid? TransactionId { get; set; }

        public List<HandedOffGroup> Saving { get; } = [];

        public bool SavingUnleased { get; set; }

        public List<HandedOffGroup> Saved { get; } = [];

        public bool SavedUnleased { get; set; }

        public void ClearSaving()
        {
            Saving.Clear();
            SavingUnleased = false;
        }

        public void Reset()
        {
            TransactionId = null;
            ClearSaving();
            Saved.Clear();
            SavedUnleased = false;
        }
    }
}
