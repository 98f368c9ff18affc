using EventBackbone.Ingestion.Api.Webhooks;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Retention;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>
/// How long the edge keeps what it accepted. A webhook receipt holds the whole body, often personal data: kept past
/// its use it is personal data kept without need. <c>Backbone:Ingestion:ReceiptRetention</c> (default 7 days, never
/// shorter than <c>Backbone:Ingestion:DuplicateWindow</c>) and <c>Backbone:Ingestion:Commands:ReceiptRetention</c>
/// (default 7 days), the command idempotency window.
/// </summary>
internal static class IngestionRetention
{
    public const string ReceiptRetentionKey = "Backbone:Ingestion:ReceiptRetention";

    public const string CommandReceiptRetentionKey = "Backbone:Ingestion:Commands:ReceiptRetention";

    public static IReadOnlyList<RetentionRule> Rules(IConfiguration configuration, WebhookIngestionSettings webhooks)
    {
        var settings = new SettingsReader(configuration);
        var receipts = settings.Duration(ReceiptRetentionKey, TimeSpan.FromDays(7), TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650));
        // A receipt is also its delivery id's dedupe record: a sender's retry arriving after its receipt was deleted
        // would be accepted and published again.
        if (receipts < webhooks.DuplicateWindow)
        {
            throw new InvalidSettingException(ReceiptRetentionKey,
                $"'{receipts}' is shorter than {WebhookIngestionSettings.DuplicateWindowKey} ({webhooks.DuplicateWindow}): a repeat arriving in between would be accepted again.");
        }

        // A receipt with an Idempotency-Key is what a retry of that command gets back: this is how long a key holds.
        var commands = settings.Duration(CommandReceiptRetentionKey, TimeSpan.FromDays(7), TimeSpan.FromDays(1), TimeSpan.FromDays(3650));
        return
        [
            // Not while its event is still in the outbox (message_id = event_id; a broker outage longer than the
            // retention): until it leaves, the receipt is the only record of what was accepted, and the dedupe record
            // that stops a sender's retry from being accepted twice.
            new RetentionRule(
                "webhook_receipts",
                $"received_at < $1 AND NOT EXISTS (SELECT 1 FROM {OutboxModel.OutboxMessagesTable} m WHERE m.message_id = webhook_receipts.event_id)",
                receipts),
            // Past the window a digest makes nothing a repeat (the lookup ignores it); only its row is left to delete.
            new RetentionRule("webhook_body_digests", "received_at < $1", webhooks.DuplicateWindow),
            new RetentionRule("command_receipts", "accepted_at < $1", commands),
        ];
    }

    /// <summary>Read in every mode, so a bad value stops the host even where nothing is deleted (in-memory storage).</summary>
    public static IServiceCollection AddIngestionRetention(
        this IServiceCollection services, IConfiguration configuration, WebhookIngestionSettings webhooks, bool isPostgres)
    {
        var rules = Rules(configuration, webhooks);
        if (isPostgres)
        {
            services.TryAddSingleton<ServiceDataSource<IngestionDbContext>>();
            services.AddTableRetention(configuration, provider => provider.GetRequiredService<ServiceDataSource<IngestionDbContext>>().DataSource, rules);
        }

        return services;
    }
}
