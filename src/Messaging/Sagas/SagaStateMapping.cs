using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EventBackbone.Messaging.Sagas;

public static class SagaStateMapping
{
    /// <summary>
    /// The optimistic concurrency token: PostgreSQL's <c>xmin</c> system column, which changes on every write of the
    /// row. A shadow property keeps it out of the state classes; a <c>byte[] RowVersion</c> would be a plain column
    /// that PostgreSQL never changes, so concurrent updates would silently overwrite each other.
    /// </summary>
    public const string ConcurrencyTokenProperty = "xmin";

    /// <summary>
    /// Maps a saga state class to its own table in the service's database, for a DbContext's OnModelCreating:
    /// <c>modelBuilder.MapSagaState&lt;OrderState&gt;("order_states", state =&gt; state.Property(x =&gt; x.CurrentState).HasMaxLength(64));</c>
    /// </summary>
    public static EntityTypeBuilder<TState> MapSagaState<TState>(
        this ModelBuilder modelBuilder,
        string table,
        Action<EntityTypeBuilder<TState>>? configure = null)
        where TState : class, SagaStateMachineInstance, ISagaVersion
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        ArgumentException.ThrowIfNullOrWhiteSpace(table);

        var state = modelBuilder.Entity<TState>();
        state.ToTable(table);
        state.HasKey(x => x.CorrelationId);
        // The message, not the database, chooses the id: a generated key would break correlation by id.
        state.Property(x => x.CorrelationId).ValueGeneratedNever();
        state.Property(x => x.Version).IsRequired();
        state.Property<uint>(ConcurrencyTokenProperty)
            .HasColumnName(ConcurrencyTokenProperty)
            .IsRowVersion();

        configure?.Invoke(state);
        return state;
    }
}
