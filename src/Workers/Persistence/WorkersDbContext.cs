using EventBackbone.Messaging.Outbox;
using EventBackbone.Workers.Integrations;
using EventBackbone.Workers.Notifications;
using EventBackbone.Workers.Reporting;
using EventBackbone.Workers.Users;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Workers.Persistence;

/// <summary>The workers' own database. No other service reads it.</summary>
public sealed class WorkersDbContext(DbContextOptions<WorkersDbContext> options) : DbContext(options)
{
    public const string UserEmailIndex = "ux_user_accounts_normalized_email";

    public DbSet<InboundWebhook> InboundWebhooks => Set<InboundWebhook>();

    public DbSet<UserAccount> UserAccounts => Set<UserAccount>();

    public DbSet<NotificationRecord> Notifications => Set<NotificationRecord>();

    public DbSet<IntegrationRecord> IntegrationRecords => Set<IntegrationRecord>();

    public DbSet<SignupFunnelRow> SignupFunnel => Set<SignupFunnelRow>();

    public DbSet<WebhookHourlyCount> WebhookHourly => Set<WebhookHourlyCount>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // Outbox, inbox and scheduler tables live beside the business tables so both commit in one transaction.
        modelBuilder.AddBackboneMessaging();
        var webhook = modelBuilder.Entity<InboundWebhook>();
        webhook.ToTable("inbound_webhooks");
        webhook.HasKey(x => x.EventId);
        webhook.Property(x => x.Source).HasMaxLength(64);
        webhook.Property(x => x.EventType).HasMaxLength(200);

        var account = modelBuilder.Entity<UserAccount>();
        account.ToTable("user_accounts");
        account.HasKey(x => x.UserId);
        account.Property(x => x.Email).HasMaxLength(254);
        account.Property(x => x.NormalizedEmail).HasMaxLength(254);
        account.Property(x => x.DisplayName).HasMaxLength(100);
        // One account per address, whatever its case, also when two signups race.
        account.HasIndex(x => x.NormalizedEmail).IsUnique().HasDatabaseName(UserEmailIndex);
        account.HasIndex(x => x.SignupId).IsUnique();

        var notification = modelBuilder.Entity<NotificationRecord>();
        notification.ToTable("notifications");
        notification.HasKey(x => x.NotificationId);
        notification.Property(x => x.Channel).HasMaxLength(32);
        notification.Property(x => x.Template).HasMaxLength(64);
        notification.Property(x => x.Recipient).HasMaxLength(254);
        notification.Property(x => x.Status).HasMaxLength(16);
        notification.HasIndex(x => x.CorrelationId);

        var integration = modelBuilder.Entity<IntegrationRecord>();
        integration.ToTable("integration_records");
        integration.HasKey(x => x.EventId);
        integration.Property(x => x.Source).HasMaxLength(64);
        integration.Property(x => x.EventType).HasMaxLength(200);
        integration.Property(x => x.Outcome).HasMaxLength(16);

        var funnel = modelBuilder.Entity<SignupFunnelRow>();
        funnel.ToTable("report_signup_funnel");
        funnel.HasKey(x => x.SignupId);
        funnel.HasIndex(x => x.RequestedAt);

        var hourly = modelBuilder.Entity<WebhookHourlyCount>();
        hourly.ToTable("report_webhooks_hourly");
        hourly.HasKey(x => new { x.Source, x.EventType, x.Hour });
        hourly.Property(x => x.Source).HasMaxLength(64);
        hourly.Property(x => x.EventType).HasMaxLength(200);
        hourly.HasIndex(x => x.Hour);
    }
}
