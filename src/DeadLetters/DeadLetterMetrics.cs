using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace EventBackbone.DeadLetters;

/// <summary>
/// Dead letters by queue (meter <c>EventBackbone.DeadLetters</c>): captured and replayed counts, and how many wait for
/// an operator — the number an alert on "the error queues are filling up" wants, refreshed every discovery round
/// rather than queried on each scrape.
/// </summary>
public sealed class DeadLetterMetrics
{
    public const string MeterName = "EventBackbone.DeadLetters";

    private readonly Counter<long> _captured;
    private readonly Counter<long> _replayed;
    private ConcurrentDictionary<string, long> _waiting = new(StringComparer.Ordinal);

    public DeadLetterMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _captured = meter.CreateCounter<long>("backbone.dead_letters.captured", description: "Dead letters stored from error and skipped queues");
        _replayed = meter.CreateCounter<long>("backbone.dead_letters.replayed", description: "Dead letters replayed with a broker confirm");
        meter.CreateObservableGauge("backbone.dead_letters.waiting", Observe, description: "Dead letters not yet replayed, archived or deleted");
    }

    public void Captured(string queue) => _captured.Add(1, new KeyValuePair<string, object?>("queue", queue));

    public void Replayed(string queue) => _replayed.Add(1, new KeyValuePair<string, object?>("queue", queue));

    public void Waiting(IReadOnlyDictionary<string, long> byQueue) => _waiting = new ConcurrentDictionary<string, long>(byQueue, StringComparer.Ordinal);

    private IEnumerable<Measurement<long>> Observe() =>
        _waiting.Select(x => new Measurement<long>(x.Value, new KeyValuePair<string, object?>("queue", x.Key)));
}
