using System.Diagnostics.Metrics;

namespace EventBackbone.Messaging.Sagas;

/// <summary>Saga instruments on the messaging meter, so a rise in contention shows before messages reach the error queue.</summary>
internal static class SagaMetrics
{
    public const string MeterName = "EventBackbone.Messaging";

    public const string ConflictsRetriedInstrument = "backbone.saga.conflicts_retried";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> ConflictsRetried = Meter.CreateCounter<long>(
        ConflictsRetriedInstrument,
        unit: "{conflict}",
        description: "Saga deliveries retried after an optimistic concurrency conflict or a duplicate first insert.");

    internal static void RecordConflictRetried(string reason, string? endpoint) =>
        ConflictsRetried.Add(
            1,
            new KeyValuePair<string, object?>("reason", reason),
            new KeyValuePair<string, object?>("endpoint", endpoint));
}
