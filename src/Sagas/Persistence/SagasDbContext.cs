using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Sagas;
using EventBackbone.Sagas.Signups;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Sagas.Persistence;

/// <summary>The workflow host's own database: saga state beside the outbox, inbox and scheduler tables.</summary>
public sealed class SagasDbContext(DbContextOptions<SagasDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder
            .AddBackboneMessaging()
            .MapSagaState<SignupState>("signup_states", state =>
            {
                state.Property(x => x.CurrentState).HasMaxLength(64);
                state.Property(x => x.Email).HasMaxLength(254);
                state.Property(x => x.DisplayName).HasMaxLength(100);
                state.Property(x => x.RejectionReason).HasMaxLength(64);
                state.Property(x => x.History).HasColumnType("jsonb");
                // Support looks signups up by address.
                state.HasIndex(x => x.Email);
            });
}
