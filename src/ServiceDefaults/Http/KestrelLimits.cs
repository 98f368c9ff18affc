using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.ServiceDefaults.Http;

/// <summary>
/// Kestrel's limits, chosen rather than inherited. Each is overridable from configuration under <c>Kestrel:Limits</c>
/// (e.g. <c>Kestrel__Limits__MaxRequestBodySize</c>), which Kestrel applies after these defaults.
/// </summary>
public static class KestrelLimits
{
    /// <summary>The largest body any endpoint may read; endpoints enforce their own, smaller limits while reading.</summary>
    public const long MaxRequestBodyBytes = 64L * 1024 * 1024;

    public static WebApplicationBuilder AddKestrelLimits(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<KestrelServerOptions>(options =>
        {
            var limits = options.Limits;
            // Webhook senders and internal services send a handful of small headers; 32 KiB still fits a large JWT.
            // Default 32 KiB / 100: kept explicit so a change is a reviewed decision.
            limits.MaxRequestHeadersTotalSize = 32 * 1024;
            limits.MaxRequestHeaderCount = 64;
            limits.MaxRequestLineSize = 8 * 1024;
            // Default 30 MB. Webhook sources and commands read bounded bodies themselves (413 as a problem); this is
            // the outer bound above the largest source limit we allow in configuration.
            limits.MaxRequestBodySize = MaxRequestBodyBytes;
            // A client that opens a connection and trickles headers (slowloris) is cut off after 10 s (default 30 s).
            limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            // Idle keep-alive connections of webhook senders are closed after a minute (default 130 s).
            limits.KeepAliveTimeout = TimeSpan.FromMinutes(1);
            // A body slower than 240 B/s after a 5 s grace is aborted (the default, stated): a 1 MiB webhook needs
            // about 4 KiB/s to arrive within the senders' usual 10 s timeout anyway.
            limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));
            // Bounded so one host cannot be exhausted by connections alone; a load balancer spreads beyond this.
            limits.MaxConcurrentConnections = 10_000;
            limits.MaxConcurrentUpgradedConnections = 0;
            options.AddServerHeader = false;
        });
        return builder;
    }
}
