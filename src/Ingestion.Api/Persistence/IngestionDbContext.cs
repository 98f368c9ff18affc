using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>The ingestion edge's own database. No other service reads it.</summary>
public sealed class IngestionDbContext(DbContextOptions<IngestionDbContext> options) : DbContext(options)
{
    public DbSet<WebhookReceipt> WebhookReceipts => Set<WebhookReceipt>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var receipt = modelBuilder.Entity<WebhookReceipt>();
        receipt.ToTable("webhook_receipts");
        receipt.HasKey(x => x.EventId);
        receipt.Property(x => x.Source).HasMaxLength(64);
        receipt.Property(x => x.EventType).HasMaxLength(200);
        receipt.Property(x => x.ContentType).HasMaxLength(200);
        receipt.Property(x => x.Status).HasConversion<string>().HasMaxLength(16);
    }
}
