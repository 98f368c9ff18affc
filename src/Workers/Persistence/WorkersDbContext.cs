using EventBackbone.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Workers.Persistence;

/// <summary>The workers' own database. No other service reads it.</summary>
public sealed class WorkersDbContext(DbContextOptions<WorkersDbContext> options) : DbContext(options)
{
    public DbSet<InboundWebhook> InboundWebhooks => Set<InboundWebhook>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // Outbox, inbox and scheduler tables live beside the business tables so both commit in one transaction.
        modelBuilder.AddBackboneMessaging();
        var webhook = modelBuilder.Entity<InboundWebhook>();
        webhook.ToTable("inbound_webhooks");
        webhook.HasKey(x => x.EventId);
        webhook.Property(x => x.Source).HasMaxLength(64);
        webhook.Property(x => x.EventType).HasMaxLength(200);
    }
}
