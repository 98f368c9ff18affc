using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EventBackbone.DeadLetters.Capture;

/// <summary>Not ready while capture has no broker connection: error queues would fill with nobody taking them.</summary>
public sealed class CaptureHealthCheck(DeadLetterCapture capture) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(capture.IsCapturing
            ? HealthCheckResult.Healthy("capturing")
            : HealthCheckResult.Unhealthy("not connected to the broker (or its management API)"));
}
