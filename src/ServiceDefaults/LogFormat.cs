namespace EventBackbone.ServiceDefaults;

public enum LogFormat
{
    /// <summary>Readable lines for a person at a terminal (embedded mode).</summary>
    Text,

    /// <summary>Compact JSON, one event per line, for a log pipeline (distributed mode).</summary>
    Json,
}
