namespace EventBackbone.ServiceDefaults.Settings;

/// <summary>
/// A setting is missing or malformed. Hosts turn it into one line on stderr naming the setting and a
/// non-zero exit, instead of a stack trace an operator has to read backwards.
/// </summary>
public sealed class InvalidSettingException : Exception
{
    public InvalidSettingException(string setting, string problem)
        : base($"Invalid setting {setting}: {problem}")
    {
        Setting = setting;
    }

    public InvalidSettingException()
        : this("(unknown)", "invalid")
    {
    }

    public InvalidSettingException(string message)
        : base(message)
    {
        Setting = "(unknown)";
    }

    public InvalidSettingException(string message, Exception innerException)
        : base(message, innerException)
    {
        Setting = "(unknown)";
    }

    /// <summary>The configuration key, e.g. <c>Backbone:Transport</c> (env: <c>Backbone__Transport</c>).</summary>
    public string Setting { get; } = "(unknown)";
}
