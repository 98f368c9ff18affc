using System.Diagnostics.Metrics;

namespace EventBackbone.Messaging.Retention;

/// <summary>
/// Rows deleted by retention, by table, and retention runs by outcome (meter <c>EventBackbone.Retention</c>): a table
/// that stops shrinking, or runs that keep failing, show here before the disk fills.
/// </summary>
public sealed class RetentionMetrics
{
    public const string MeterName = "EventBackbone.Retention";

    private readonly Counter<long> _deleted;
    private readonly Counter<long> _runs;

    public RetentionMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _deleted = meter.CreateCounter<long>("backbone.retention.deleted", description: "Rows deleted past their retention, one measurement per batch");
        _runs = meter.CreateCounter<long>("backbone.retention.runs", description: "Retention runs, by outcome (completed or failed)");
    }

    public void Deleted(string table, long rows) => _deleted.Add(rows, new KeyValuePair<string, object?>("table", table));

    public void Run(bool completed) => _runs.Add(1, new KeyValuePair<string, object?>("outcome", completed ? "completed" : "failed"));
}
