using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.ServiceDefaults;

/// <summary>
/// Whether this process runs embedded (<c>Backbone:Transport</c> = <c>InMemory</c>), for the defaults decided before the
/// bus is configured: log format, which signing keys are acceptable. The transport setting itself is validated by the
/// messaging core.
/// </summary>
public static class EmbeddedMode
{
    public static bool IsOn(IConfiguration configuration) =>
        string.Equals(new SettingsReader(configuration).Optional("Backbone:Transport"), "InMemory", StringComparison.OrdinalIgnoreCase);
}
