using MassTransit;
using MassTransit.Context;
using MassTransit.Saga;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Sagas;

/// <summary>
/// One message's view of the saga table. Runs inside a transaction (its own or the inbox/outbox's), so SaveChanges
/// here never commits; EF Core sets a savepoint around each SaveChanges in a transaction, which keeps the transaction
/// usable on PostgreSQL after a failed INSERT instead of aborting it (25P02 on the next statement).
/// </summary>
internal sealed class PostgresSagaRepositoryContext<TSaga, TMessage> :
    ConsumeContextScope<TMessage>,
    SagaRepositoryContext<TSaga, TMessage>
    where TSaga : class, ISaga, ISagaVersion
    where TMessage : class
{
    private readonly DbContext _dbContext;
    private readonly ConsumeContext<TMessage> _consumeContext;
    private readonly ISagaConsumeContextFactory<DbContext, TSaga> _consumeContextFactory;

    public PostgresSagaRepositoryContext(
        DbContext dbContext,
        ConsumeContext<TMessage> consumeContext,
        ISagaConsumeContextFactory<DbContext, TSaga> consumeContextFactory)
        : base(consumeContext, dbContext)
    {
        _dbContext = dbContext;
        _consumeContext = consumeContext;
        _consumeContextFactory = consumeContextFactory;
    }

    private DbSet<TSaga> Instances => _dbContext.Set<TSaga>();

    public Task<SagaConsumeContext<TSaga, TMessage>> Add(TSaga instance) =>
        _consumeContextFactory.CreateSagaConsumeContext(_dbContext, _consumeContext, instance, SagaConsumeContextMode.Add);

    public async Task<SagaConsumeContext<TSaga, TMessage>> Insert(TSaga instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        instance.Version = 1;
        var entry = Instances.Add(instance);
        try
        {
            await _dbContext.SaveChangesAsync(CancellationToken);
        }
        catch (DbUpdateException duplicate) when (SagaConcurrencyRetry.IsDuplicateInsert(duplicate))
        {
            // Another delivery inserted this correlation id first. Returning null makes MassTransit load that row and
            // run the event on it; the detached entry keeps the failed INSERT out of the next SaveChanges.
            entry.State = EntityState.Detached;
            return null!;
        }

        return await _consumeContextFactory.CreateSagaConsumeContext(_dbContext, _consumeContext, instance, SagaConsumeContextMode.Insert);
    }

    public async Task<SagaConsumeContext<TSaga, TMessage>> Load(Guid correlationId)
    {
        var instance = await Instances.AsTracking().SingleOrDefaultAsync(x => x.CorrelationId == correlationId, CancellationToken);
        return instance is null
            ? null!
            : await _consumeContextFactory.CreateSagaConsumeContext(_dbContext, _consumeContext, instance, SagaConsumeContextMode.Load);
    }

    public async Task Save(SagaConsumeContext<TSaga> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Two first events for one correlation id both reach here; the second INSERT fails with 23505, and
        // UseSagaConcurrencyRetry retries it, when it loads the first one's row instead.
        context.Saga.Version = 1;
        Instances.Add(context.Saga);
        await _dbContext.SaveChangesAsync(CancellationToken);
    }

    public async Task Update(SagaConsumeContext<TSaga> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var entry = _dbContext.Entry(context.Saga);
        entry.DetectChanges();
        if (entry.State == EntityState.Modified)
        {
            context.Saga.Version++;
        }

        // UPDATE … WHERE correlation_id = @id AND xmin = @loaded: a concurrent writer makes it affect no row and EF
        // throws DbUpdateConcurrencyException instead of overwriting that writer's change.
        await _dbContext.SaveChangesAsync(CancellationToken);
    }

    public async Task Delete(SagaConsumeContext<TSaga> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Instances.Remove(context.Saga);
        await _dbContext.SaveChangesAsync(CancellationToken);
    }

    public Task Discard(SagaConsumeContext<TSaga> context) => Task.CompletedTask;

    public Task Undo(SagaConsumeContext<TSaga> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // A read-only policy ran the event on the tracked instance; detaching keeps its in-memory changes out of
        // any later SaveChanges on the shared DbContext.
        _dbContext.Entry(context.Saga).State = EntityState.Detached;
        return Task.CompletedTask;
    }

    public Task<SagaConsumeContext<TSaga, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> consumeContext, TSaga instance, SagaConsumeContextMode mode)
        where T : class =>
        _consumeContextFactory.CreateSagaConsumeContext(_dbContext, consumeContext, instance, mode);
}
