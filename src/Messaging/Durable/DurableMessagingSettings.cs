using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Messaging.Durable;

/// <summary>The <c>Backbone:Messaging</c> section: outbox delivery, inbox retention and cleanup.</summary>
public sealed record DurableMessagingSettings(
    TimeSpan PollInterval,
    int DeliveryBatchSize,
    int DeliveryConcurrency,
    TimeSpan DeliveryLease,
    TimeSpan HandoffLease,
    int MaxDeliveryAttempts,
    TimeSpan DuplicateDetectionWindow,
    int CleanupBatchSize,
    TimeSpan CleanupInterval,
    TimeSpan OrphanAfter)
{
    public static DurableMessagingSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var loaded = new DurableMessagingSettings(
            // Only the fallback: commits wake delivery at once (in-process signal, LISTEN/NOTIFY across instances).
            settings.Duration("Backbone:Messaging:PollInterval", TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(5)),
            settings.Int("Backbone:Messaging:DeliveryBatchSize", 100, 1, 10_000),
            settings.Int("Backbone:Messaging:DeliveryConcurrency", 4, 1, 64),
            // Longer than the slowest batch, or a second instance re-sends a batch still in flight.
            settings.Duration("Backbone:Messaging:DeliveryLease", TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), TimeSpan.FromHours(1)),
            // What a group sent from memory after commit is written leased for: how long a crash of this process can
            // delay it before another instance's claim sends it. A group is sent from memory only while more than half
            // of it is left, and its sends time out before it ends, so a claim never sends it while it is in flight.
            settings.Duration("Backbone:Messaging:HandoffLease", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10)),
            settings.Int("Backbone:Messaging:MaxDeliveryAttempts", 5, 1, 1000),
            // Must exceed the longest redelivery delay, or a late redelivery is taken for a new message.
            settings.Duration("Backbone:Messaging:DuplicateDetectionWindow", TimeSpan.FromHours(24), TimeSpan.FromSeconds(1), TimeSpan.FromDays(90)),
            settings.Int("Backbone:Messaging:CleanupBatchSize", 1000, 1, 100_000),
            settings.Duration("Backbone:Messaging:CleanupInterval", TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1), TimeSpan.FromHours(24)),
            settings.Duration("Backbone:Messaging:OrphanAfter", TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)));
        if (loaded.DuplicateDetectionWindow <= loaded.HandoffLease + loaded.DeliveryLease)
        {
            // A group whose sender was killed is re-sent once the hand-off lease runs out, and again after a claim lease
            // if its re-sender dies too. A window that has forgotten the first copy by then lets the copy take effect
            // twice: the fault-injection suite's kill-api scenario, with a 60 s window, counted 6–16 webhooks twice in
            // two runs while the claim lease was 60 s, and none with 10 s.
            throw new InvalidSettingException("Backbone:Messaging:DuplicateDetectionWindow",
                $"must be longer than HandoffLease + DeliveryLease ({loaded.HandoffLease + loaded.DeliveryLease}): an outbox group re-sent after a crash arrives that late.");
        }

        return loaded;
    }
}
