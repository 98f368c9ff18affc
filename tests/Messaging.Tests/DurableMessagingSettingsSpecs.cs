using EventBackbone.Messaging.Durable;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Messaging.Tests;

/// <summary>
/// The inbox must still remember a message when its outbox group is re-sent after a crash: a re-send waits for the
/// hand-off lease and then a claim lease, so a shorter duplicate-detection window is refused at start.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class DurableMessagingSettingsSpecs
{
    [Fact]
    public void The_defaults_remember_a_message_far_longer_than_a_re_send_can_take()
    {
        var settings = DurableMessagingSettings.Load(Configuration([]));

        Assert.Equal(TimeSpan.FromSeconds(10), settings.HandoffLease);
        Assert.True(settings.DuplicateDetectionWindow > settings.HandoffLease + settings.DeliveryLease);
    }

    [Fact]
    public void A_window_shorter_than_the_leases_a_re_send_waits_for_is_refused()
    {
        var refused = Assert.Throws<InvalidSettingException>(() => DurableMessagingSettings.Load(Configuration(new()
        {
            ["Backbone:Messaging:DuplicateDetectionWindow"] = "00:01:00",
            ["Backbone:Messaging:HandoffLease"] = "00:00:10",
            ["Backbone:Messaging:DeliveryLease"] = "00:01:00",
        })));

        Assert.Contains("Backbone:Messaging:DuplicateDetectionWindow", refused.Message, StringComparison.Ordinal);
        Assert.Contains("00:01:10", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_window_longer_than_both_leases_is_taken()
    {
        var settings = DurableMessagingSettings.Load(Configuration(new()
        {
            ["Backbone:Messaging:DuplicateDetectionWindow"] = "00:01:00",
            ["Backbone:Messaging:HandoffLease"] = "00:00:05",
            ["Backbone:Messaging:DeliveryLease"] = "00:00:10",
        }));

        Assert.Equal(TimeSpan.FromMinutes(1), settings.DuplicateDetectionWindow);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();
}
