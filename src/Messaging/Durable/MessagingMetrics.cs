using System.Diagnostics.Metrics;

namespace EventBackbone.Messaging.Durable;

/// <summary>The durable core's own instruments, beside MassTransit's meters. Meter name: <c>EventBackbone.Messaging</c>.</summary>
internal sealed class MessagingMetrics : IDisposable
{
    public const string MeterName = "EventBackbone.Messaging";

    private readonly Meter _meter;
    private long _pending;
    private double _oldestPendingSeconds;
    private long _scheduledDue;
    private readonly Histogram<int> _inboxBatchSize;

    public MessagingMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        Delivered = _meter.CreateCounter<long>("backbone.outbox.delivered", description: "Outbox messages sent to the broker");
        DeliveryFailures = _meter.CreateCounter<long>("backbone.outbox.delivery_failures", description: "Failed attempts to send an outbox group");
        Parked = _meter.CreateCounter<long>("backbone.outbox.parked", description: "Outbox groups parked after too many failed attempts");
        DuplicatesDropped = _meter.CreateCounter<long>("backbone.inbox.duplicates_dropped", description: "Redelivered messages whose effect had already happened");
        InboxCleaned = _meter.CreateCounter<long>("backbone.inbox.cleaned", description: "Inbox rows removed after the duplicate-detection window");
        _inboxBatchSize = _meter.CreateHistogram<int>("backbone.inbox.batch_size", unit: "{message}",
            description: "Deliveries committed in one inbox transaction",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32] });
        _meter.CreateObservableGauge("backbone.outbox.pending", () => Volatile.Read(ref _pending), description: "Outbox groups due and not yet delivered");
        _meter.CreateObservableGauge("backbone.outbox.oldest_pending_age", () => Volatile.Read(ref _oldestPendingSeconds), unit: "s");
        _meter.CreateObservableGauge("backbone.scheduler.due", () => Volatile.Read(ref _scheduledDue), description: "Scheduled messages that are due now");
    }

    public Counter<long> Delivered { get; }

    public Counter<long> DeliveryFailures { get; }

    public Counter<long> Parked { get; }

    public Counter<long> DuplicatesDropped { get; }

    public Counter<long> InboxCleaned { get; }

    /// <summary>One batched inbox transaction of <paramref name="size"/> deliveries to <paramref name="consumerType"/>.</summary>
    public void RecordInboxBatch(int size, string consumerType) =>
        _inboxBatchSize.Record(size, new KeyValuePair<string, object?>("consumer_type", consumerType));

    public void ObserveBacklog(long pending, double oldestAgeSeconds, long scheduledDue)
    {
        Volatile.Write(ref _pending, pending);
        Volatile.Write(ref _oldestPendingSeconds, oldestAgeSeconds);
        Volatile.Write(ref _scheduledDue, scheduledDue);
    }

    public void Dispose() => _meter.Dispose();
}
