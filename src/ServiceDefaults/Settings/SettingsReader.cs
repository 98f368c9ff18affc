using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.ServiceDefaults.Settings;

/// <summary>
/// Reads typed settings by their full key and fails with <see cref="InvalidSettingException"/> naming that key.
/// The configuration binder would instead throw a conversion error deep inside host start-up.
/// </summary>
public sealed class SettingsReader(IConfiguration configuration)
{
    public string? Optional(string key)
    {
        var value = configuration[key];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public string Required(string key, string hint) =>
        Optional(key) ?? throw new InvalidSettingException(key, $"is required ({hint}).");

    public string String(string key, string defaultValue) => Optional(key) ?? defaultValue;

    public TEnum Enum<TEnum>(string key)
        where TEnum : struct, Enum
    {
        var names = string.Join(", ", System.Enum.GetNames<TEnum>());
        var raw = Required(key, $"one of {names}");
        if (!System.Enum.TryParse<TEnum>(raw, ignoreCase: true, out var value) || !System.Enum.IsDefined(value)
            || raw.All(char.IsDigit))
        {
            throw new InvalidSettingException(key, $"'{raw}' is not one of {names}.");
        }

        return value;
    }

    public TEnum Enum<TEnum>(string key, TEnum defaultValue)
        where TEnum : struct, Enum =>
        Optional(key) is null ? defaultValue : Enum<TEnum>(key);

    /// <summary><c>true</c> or <c>false</c>; anything else stops the host, so a "yes" is not silently read as off.</summary>
    public bool Bool(string key, bool defaultValue)
    {
        var raw = Optional(key);
        if (raw is null)
        {
            return defaultValue;
        }

        return bool.TryParse(raw, out var value) ? value : throw new InvalidSettingException(key, $"'{raw}' is not true or false.");
    }

    public int Int(string key, int defaultValue, int min, int max)
    {
        var raw = Optional(key);
        if (raw is null)
        {
            return defaultValue;
        }

        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new InvalidSettingException(key, $"'{raw}' is not a whole number from {min} to {max}.");
        }

        return value;
    }

    public TimeSpan Duration(string key, TimeSpan defaultValue, TimeSpan min, TimeSpan max)
    {
        var raw = Optional(key);
        if (raw is null)
        {
            return defaultValue;
        }

        if (!TimeSpan.TryParse(raw, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new InvalidSettingException(key, $"'{raw}' is not a duration (hh:mm:ss) from {min} to {max}.");
        }

        return value;
    }

    public Uri? AbsoluteUri(string key)
    {
        var raw = Optional(key);
        if (raw is null)
        {
            return null;
        }

        return Uri.TryCreate(raw, UriKind.Absolute, out var uri)
            ? uri
            : throw new InvalidSettingException(key, $"'{raw}' is not an absolute URI.");
    }

    /// <summary>The list <c><paramref name="section"/>:0…n</c> of addresses (one-address networks) or networks (<c>10.0.0.0/8</c>).</summary>
    public IReadOnlyList<System.Net.IPNetwork> Networks(string section)
    {
        var networks = new List<System.Net.IPNetwork>();
        foreach (var entry in configuration.GetSection(section).GetChildren())
        {
            var raw = entry.Value?.Trim() ?? "";
            if (raw.Length == 0)
            {
                continue;
            }

            if (System.Net.IPNetwork.TryParse(raw, out var network))
            {
                networks.Add(network);
            }
            else if (System.Net.IPAddress.TryParse(raw, out var address))
            {
                // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; listed as a.b.c.d, it is that one.
                address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
                networks.Add(new System.Net.IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                throw new InvalidSettingException(entry.Path, $"'{raw}' is not an IP address or a network (e.g. 10.0.0.0/8).");
            }
        }

        return networks;
    }
}
