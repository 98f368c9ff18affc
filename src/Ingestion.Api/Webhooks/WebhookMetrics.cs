using System.Diagnostics.Metrics;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Webhooks accepted and refused, by source and reason (meter <c>EventBackbone.Ingestion</c>): the first thing to look
/// at when a partner says "we sent it". A source that is not configured counts as <c>unknown</c>, so a scanner trying
/// names cannot grow the metric without bound.
/// </summary>
public sealed class WebhookMetrics
{
    public const string MeterName = "EventBackbone.Ingestion";

    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;

    public WebhookMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _accepted = meter.CreateCounter<long>("backbone.webhooks.accepted", description: "Webhooks accepted (stored and answered 2xx), new or duplicate");
        _rejected = meter.CreateCounter<long>("backbone.webhooks.rejected", description: "Webhooks refused, by reason");
    }

    public void Accepted(string source, bool duplicate) =>
        _accepted.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("outcome", duplicate ? "duplicate" : "new"));

    public void Rejected(string source, string reason) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("reason", reason));
}
