using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// Every measurement of the counters of one meter of one host: <paramref name="scope"/> is that host's
/// <c>IMeterFactory</c>, so hosts of other test classes running in the same process at once are not counted.
/// </summary>
public sealed class CounterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();

    public CounterRecorder(string meterName, object scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName && ReferenceEquals(instrument.Meter.Scope, scope))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
        _listener.Start();
    }

    /// <summary>The values recorded by <paramref name="instrument"/> with the tag <paramref name="tag"/> = <paramref name="value"/>, in order.</summary>
    public IReadOnlyList<long> Values(string instrument, string tag, string value) =>
        [.. _measurements.Where(x => x.Instrument == instrument && x.Tags.Any(t => t.Key == tag && Equals(t.Value, value))).Select(x => x.Value)];

    public void Dispose() => _listener.Dispose();
}
