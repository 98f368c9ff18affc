using EventBackbone.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>The ingestion edge's own database. No other service reads it.</summary>
public sealed class IngestionDbContext(DbContextOptions<IngestionDbContext> options) : DbContext(options)
{
    public const string DedupeIndex = "ux_webhook_receipts_source_dedupe_key";

    public const string BodyDigestKey = "pk_webhook_body_digests";

    public const string IdempotencyIndex = "ux_command_receipts_caller_idempotency_key";

    /// <summary>The longest event type, content type or delivery id a webhook receipt stores.</summary>
    public const int WebhookMetadataMaxLength = 200;

    public DbSet<WebhookReceipt> WebhookReceipts => Set<WebhookReceipt>();

    public DbSet<WebhookBodyDigest> WebhookBodyDigests => Set<WebhookBodyDigest>();

    public DbSet<CommandReceipt> CommandReceipts => Set<CommandReceipt>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // Outbox, inbox and scheduler tables live beside the business tables so both commit in one transaction.
        modelBuilder.AddBackboneMessaging();
        var receipt = modelBuilder.Entity<WebhookReceipt>();
        receipt.ToTable("webhook_receipts");
        receipt.HasKey(x => x.EventId);
        receipt.Property(x => x.Source).HasMaxLength(64);
        receipt.Property(x => x.EventType).HasMaxLength(WebhookMetadataMaxLength);
        receipt.Property(x => x.ContentType).HasMaxLength(WebhookMetadataMaxLength);
        receipt.Property(x => x.DedupeKey).HasMaxLength(WebhookMetadataMaxLength);
        // A sender's retry of the same delivery, even racing the first, cannot be accepted twice.
        receipt.HasIndex(x => new { x.Source, x.DedupeKey }).IsUnique().HasFilter("dedupe_key IS NOT NULL")
            .HasDatabaseName(DedupeIndex);
        // Retention finds expired receipts by age without scanning a week of bodies' rows.
        receipt.HasIndex(x => x.ReceivedAt);

        // The key makes two copies of one body racing each other accepted once, like the dedupe index.
        var digest = modelBuilder.Entity<WebhookBodyDigest>();
        digest.ToTable("webhook_body_digests");
        digest.HasKey(x => new { x.Source, x.BodySha256 }).HasName(BodyDigestKey);
        digest.Property(x => x.Source).HasMaxLength(64);
        digest.HasIndex(x => x.ReceivedAt);

        var command = modelBuilder.Entity<CommandReceipt>();
        command.ToTable("command_receipts");
        command.HasKey(x => x.CommandId);
        command.Property(x => x.Name).HasMaxLength(64);
        command.Property(x => x.Caller).HasMaxLength(200);
        command.Property(x => x.IdempotencyKey).HasMaxLength(255);
        command.Property(x => x.Location).HasMaxLength(200);
        // A retried command, even racing the first attempt, is accepted once per caller and key.
        command.HasIndex(x => new { x.Caller, x.IdempotencyKey }).IsUnique().HasFilter("idempotency_key IS NOT NULL")
            .HasDatabaseName(IdempotencyIndex);
        command.HasIndex(x => x.AcceptedAt);
    }
}
