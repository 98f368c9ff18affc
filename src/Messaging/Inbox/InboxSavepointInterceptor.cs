using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace EventBackbone.Messaging.Inbox;

/// <summary>
/// Takes the savepoint of a consumer running in a batched inbox transaction right before that consumer's first
/// statement, so a consumer that throws can be rolled back alone while the batch's other consumers commit. Lazily: a
/// consumer that never touches the database costs no round trip and no subtransaction. Also notes whether one of the
/// consumer's statements failed, so the batch can tell a consumer that swallowed such a failure from a sound one.
/// </summary>
internal sealed class InboxSavepointInterceptor : DbCommandInterceptor, IDbTransactionInterceptor
{
    public static InboxSavepointInterceptor Instance { get; } = new();

    // Per DbContext instance: the interceptor is in every context's options, and pooled contexts are reused across scopes.
    private readonly ConditionalWeakTable<DbContext, LazySavepoint> _armed = [];

    private InboxSavepointInterceptor()
    {
    }

    /// <summary>
    /// From now on, the first statement <paramref name="db"/> issues is preceded by a savepoint named for this
    /// delivery alone: were two consumers' savepoints to share a name, a rollback to a missing one would silently land
    /// on the previous consumer's and undo that consumer's committed-to-be effect.
    /// </summary>
    public LazySavepoint Arm(DbContext db, int delivery)
    {
        var savepoint = new LazySavepoint($"backbone_inbox_item_{delivery}");
        _armed.AddOrUpdate(db, savepoint);
        return savepoint;
    }

    /// <summary>
    /// Only notes whether a statement of <paramref name="db"/> failed, for a consumer with a transaction of its own:
    /// there is nobody else's work to protect, but its COMMIT must not turn into a silent ROLLBACK either.
    /// </summary>
    public LazySavepoint Watch(DbContext db)
    {
        var watch = new LazySavepoint(name: null);
        _armed.AddOrUpdate(db, watch);
        return watch;
    }

    public void Disarm(DbContext db) => _armed.Remove(db);

    public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        await TakeAsync(eventData.Context, command.Connection, command.Transaction);
        return result;
    }

    public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        await TakeAsync(eventData.Context, command.Connection, command.Transaction);
        return result;
    }

    public override async ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        await TakeAsync(eventData.Context, command.Connection, command.Transaction);
        return result;
    }

    public override Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        NoteFailure(eventData.Context);
        return Task.CompletedTask;
    }

    public override void CommandFailed(DbCommand command, CommandErrorEventData eventData) => NoteFailure(eventData.Context);

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
        await TakeAsync(eventData.Context, transaction.Connection, transaction);
        return result;
    }

    public InterceptionResult CreatingSavepoint(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result)
    {
        Take(eventData.Context, transaction.Connection, transaction);
        return result;
    }

    // Not with the consumer's token: RabbitMQ closing the channel cancels every delivery's token at once, and a SAVEPOINT
    // cancelled mid-batch would leave the consumer with nothing of its own to roll back to. The consumer's statement
    // right after it still meets the cancelled token. Taken only once the savepoint exists.
    private async ValueTask TakeAsync(DbContext? context, DbConnection? connection, DbTransaction? transaction)
    {
        if (context is not null && _armed.TryGetValue(context, out var savepoint) && savepoint.Name is not null && !savepoint.Taken)
        {
            await using var command = new NpgsqlCommand($"SAVEPOINT {savepoint.Name}", (NpgsqlConnection?)connection, (NpgsqlTransaction?)transaction);
            await command.ExecuteNonQueryAsync();
            savepoint.Taken = true;
        }
    }

    private void Take(DbContext? context, DbConnection? connection, DbTransaction? transaction)
    {
        if (context is not null && _armed.TryGetValue(context, out var savepoint) && savepoint.Name is not null && !savepoint.Taken)
        {
            using var command = new NpgsqlCommand($"SAVEPOINT {savepoint.Name}", (NpgsqlConnection?)connection, (NpgsqlTransaction?)transaction);
            command.ExecuteNonQuery();
            savepoint.Taken = true;
        }
    }

    private void NoteFailure(DbContext? context)
    {
        if (context is not null && _armed.TryGetValue(context, out var savepoint))
        {
            savepoint.StatementFailed = true;
        }
    }
}

internal sealed class LazySavepoint(string? name)
{
    /// <summary>Null when only watching: no savepoint is taken.</summary>
    public string? Name { get; } = name;

    /// <summary>Whether the savepoint exists: only then is there anything of this consumer's to roll back to.</summary>
    public bool Taken { get; set; }

    /// <summary>
    /// Whether one of the consumer's statements failed. Usually EF Core's own savepoint around SaveChanges already
    /// undid it; if not, the transaction is aborted and the inbox must find out before its COMMIT does.
    /// </summary>
    public bool StatementFailed { get; set; }

    /// <summary>
    /// Whether the consumer left the transaction aborted: PostgreSQL would then turn its COMMIT into a ROLLBACK without an
    /// error, and the message (in a batch, every message of the batch) would be acked with nothing of it committed.
    /// One round trip, and only after a statement of the consumer failed.
    /// </summary>
    public async Task ThrowIfSwallowedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string consumerType)
    {
        if (!StatementFailed)
        {
            return;
        }

        try
        {
            await using var probe = new NpgsqlCommand("SELECT 1", connection, transaction);
            await probe.ExecuteScalarAsync();
        }
        catch (PostgresException aborted) when (aborted.SqlState == PostgresErrorCodes.InFailedSqlTransaction)
        {
            throw new InvalidOperationException(
                $"{consumerType} swallowed the failure of one of its statements, which aborted the transaction (PostgreSQL "
                + "25P02), and returned as if it had succeeded. Let the exception propagate, or catch it around SaveChanges "
                + "(EF Core's savepoint keeps the transaction usable). Its message fails instead of being acked with nothing "
                + "committed.");
        }
    }
}
