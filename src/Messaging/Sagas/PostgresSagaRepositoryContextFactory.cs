using System.Data;
using MassTransit;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Sagas;

/// <summary>
/// MassTransit's saga repository extension points over the consume scope's <typeparamref name="TDbContext"/>, with
/// optimistic concurrency on PostgreSQL's xmin. Resolved per consume scope, so every delivery attempt (and every retry,
/// which sits outside the repository) works on a fresh DbContext.
/// </summary>
internal sealed class PostgresSagaRepositoryContextFactory<TDbContext, TSaga>(
    TDbContext dbContext,
    ISagaConsumeContextFactory<DbContext, TSaga> consumeContextFactory) :
    ISagaRepositoryContextFactory<TSaga>,
    ILoadSagaRepositoryContextFactory<TSaga>,
    IQuerySagaRepositoryContextFactory<TSaga>
    where TDbContext : DbContext
    where TSaga : class, ISaga, ISagaVersion
{
    public void Probe(ProbeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Add("persistence", "postgresql");
        context.Add("dbContext", typeof(TDbContext).Name);
    }

    public Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TSaga, T>> next)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        return WithinTransactionAsync(
            () => next.Send(new PostgresSagaRepositoryContext<TSaga, T>(dbContext, context, consumeContextFactory)),
            context.CancellationToken);
    }

    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<TSaga> query, IPipe<SagaRepositoryQueryContext<TSaga, T>> next)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(next);
        return WithinTransactionAsync(
            async () =>
            {
                // Tracked, inside the transaction: the xmin read here is the one the UPDATE is conditioned on.
                var instances = await dbContext.Set<TSaga>()
                    .AsTracking()
                    .Where(query.FilterExpression)
                    .ToListAsync(context.CancellationToken);
                var repositoryContext = new PostgresSagaRepositoryContext<TSaga, T>(dbContext, context, consumeContextFactory);
                await next.Send(new LoadedSagaRepositoryQueryContext<TSaga, T>(repositoryContext, instances));
            },
            context.CancellationToken);
    }

    public Task<T> Execute<T>(Func<LoadSagaRepositoryContext<TSaga>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(asyncMethod);
        return asyncMethod(new PostgresSagaQueryContext<TSaga>(dbContext, cancellationToken));
    }

    public Task<T> Execute<T>(Func<QuerySagaRepositoryContext<TSaga>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(asyncMethod);
        return asyncMethod(new PostgresSagaQueryContext<TSaga>(dbContext, cancellationToken));
    }

    private async Task WithinTransactionAsync(Func<Task> work, CancellationToken cancellationToken)
    {
        if (dbContext.Database.CurrentTransaction is not null)
        {
            // The consumer inbox/outbox opened this transaction on the same scoped DbContext and commits it after the
            // saga: beginning or committing here would commit its inbox row and outbox messages before it decides to.
            try
            {
                await work();
            }
            finally
            {
                DetachSagaInstances();
            }

            return;
        }

        // ReadCommitted is enough: xmin makes a conflicting UPDATE or DELETE affect no row, which EF turns into
        // DbUpdateConcurrencyException; Serializable would only add serialization failures to retry.
        await using var transaction = await dbContext.Database.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
        try
        {
            await work();
            await transaction.CommitAsync(cancellationToken);
        }
        finally
        {
            // A DbContext shared within the scope would otherwise hand a later load the tracked instance as it was,
            // with an old xmin, instead of the committed row: a guaranteed conflict, or a lost update on rollback.
            dbContext.ChangeTracker.Clear();
        }
    }

    private void DetachSagaInstances()
    {
        // Only the saga rows: the transaction's owner may still track entities it has not saved yet.
        foreach (var entry in dbContext.ChangeTracker.Entries<TSaga>().ToList())
        {
            entry.State = EntityState.Detached;
        }
    }
}
