using EventBackbone.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>The ingestion edge's own database. No other service reads it.</summary>
public sealed class IngestionDbContext(DbContextOptions<IngestionDbContext> options) : DbContext(options)
{
    public const string DedupeIndex = "ux_webhook_receipts_source_dedupe_key";

    public DbSet<WebhookReceipt> WebhookReceipts => Set<WebhookReceipt>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // Outbox, inbox and scheduler tables live beside the business tables so both commit in one transaction.
        modelBuilder.AddBackboneMessaging();
        var receipt = modelBuilder.Entity<WebhookReceipt>();
        receipt.ToTable("webhook_receipts");
        receipt.HasKey(x => x.EventId);
        receipt.Property(x => x.Source).HasMaxLength(64);
        receipt.Property(x => x.EventType).HasMaxLength(200);
        receipt.Property(x => x.ContentType).HasMaxLength(200);
        receipt.Property(x => x.DedupeKey).HasMaxLength(200);
        // A sender's retry of the same delivery, even racing the first, cannot be accepted twice.
        receipt.HasIndex(x => new { x.Source, x.DedupeKey }).IsUnique().HasFilter("dedupe_key IS NOT NULL")
            .HasDatabaseName(DedupeIndex);
    }
}
