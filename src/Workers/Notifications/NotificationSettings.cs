using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Workers.Notifications;

/// <summary>
/// The <c>Backbone:Notifications</c> section: <c>ProviderUrl</c>, the external delivery provider's base address (none:
/// notifications are only logged — fine for embedded mode, said loudly at start), and <c>RedeliveryDelays</c>, how long
/// to wait before trying again a notification the provider could not take even after the HTTP retries (default
/// 5 s, 30 s, 2 min; after the last one it is recorded as failed).
/// </summary>
public sealed record NotificationSettings(Uri? ProviderUrl, IReadOnlyList<TimeSpan> RedeliveryDelays)
{
    public static NotificationSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        var delays = configuration.GetSection("Backbone:Notifications:RedeliveryDelays").GetChildren()
            .Select((child, index) => settings.Duration($"Backbone:Notifications:RedeliveryDelays:{index}", TimeSpan.Zero, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(6)))
            .ToList();
        return new NotificationSettings(
            settings.AbsoluteUri("Backbone:Notifications:ProviderUrl"),
            delays.Count > 0 ? delays : [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)]);
    }
}
