using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace EventBackbone.Messaging.Inbox;

/// <summary>
/// Takes the savepoint of a consumer running in a batched inbox transaction right before that consumer's first
/// statement, so a consumer that throws can be rolled back alone while the batch's other consumers commit. Lazily: a
/// consumer that never touches the database costs no round trip and no subtransaction.
/// </summary>
internal sealed class InboxSavepointInterceptor : DbCommandInterceptor, IDbTransactionInterceptor
{
    public const string SavepointName = "backbone_inbox_item";

    public static InboxSavepointInterceptor Instance { get; } = new();

    // Per DbContext instance: the interceptor is in every context's options, and pooled contexts are reused across scopes.
    private readonly ConditionalWeakTable<DbContext, LazySavepoint> _armed = [];

    private InboxSavepointInterceptor()
    {
    }

    /// <summary>From now on, the first statement <paramref name="db"/> issues is preceded by a savepoint.</summary>
    public LazySavepoint Arm(DbContext db)
    {
        var savepoint = new LazySavepoint();
        _armed.AddOrUpdate(db, savepoint);
        return savepoint;
    }

    public void Disarm(DbContext db) => _armed.Remove(db);

    public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        await TakeAsync(eventData.Context, command.Connection, command.Transaction, cancellationToken);
        return result;
    }

    public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        await TakeAsync(eventData.Context, command.Connection, command.Transaction, cancellationToken);
        return result;
    }

    public override async ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        await TakeAsync(eventData.Context, command.Connection, command.Transaction, cancellationToken);
        return result;
    }

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Take(eventData.Context, command.Connection, command.Transaction);
        return result;
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Take(eventData.Context, command.Connection, command.Transaction);
        return result;
    }

    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Take(eventData.Context, command.Connection, command.Transaction);
        return result;
    }

    // EF Core's own savepoint around SaveChanges must come after ours: RELEASE of its savepoint would also release one
    // taken inside it, and the consumer could then no longer be rolled back alone.
    public async ValueTask<InterceptionResult> CreatingSavepointAsync(
        DbTransaction transaction, TransactionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
    {
        await TakeAsync(eventData.Context, transaction.Connection, transaction, cancellationToken);
        return result;
    }

    public InterceptionResult CreatingSavepoint(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result)
    {
        Take(eventData.Context, transaction.Connection, transaction);
        return result;
    }

    private async ValueTask TakeAsync(DbContext? context, DbConnection? connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        if (context is not null && _armed.TryGetValue(context, out var savepoint) && !savepoint.Taken)
        {
            savepoint.Taken = true;
            await using var command = new NpgsqlCommand($"SAVEPOINT {SavepointName}", (NpgsqlConnection?)connection, (NpgsqlTransaction?)transaction);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private void Take(DbContext? context, DbConnection? connection, DbTransaction? transaction)
    {
        if (context is not null && _armed.TryGetValue(context, out var savepoint) && !savepoint.Taken)
        {
            savepoint.Taken = true;
            using var command = new NpgsqlCommand($"SAVEPOINT {SavepointName}", (NpgsqlConnection?)connection, (NpgsqlTransaction?)transaction);
            command.ExecuteNonQuery();
        }
    }
}

internal sealed class LazySavepoint
{
    /// <summary>Whether the consumer issued a statement: only then is there anything to roll back to.</summary>
    public bool Taken { get; set; }
}
