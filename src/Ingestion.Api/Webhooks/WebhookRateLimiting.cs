using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// What a webhook may cost before and after it is verified. Before: a share of the body-read slots and of the
/// unverified budgets, by client address and for the instance (<see cref="WebhookEdgeSettings"/>). After: a token from
/// its source's bucket, from the source's configuration, so one noisy sender cannot starve the others or the
/// database. Only verified webhooks spend a source's tokens: junk sent in a source's name spent them too, and real
/// deliveries were refused. Refusals are 429 (or 503 for a busy instance) problems with <c>Retry-After</c>.
/// </summary>
public static class WebhookRateLimiting
{
    public static IServiceCollection AddWebhookRateLimiting(this IServiceCollection services, WebhookIngestionSettings settings, WebhookEdgeSettings edge)
    {
        services.AddSingleton(edge);
        services.AddSingleton<BodyReadSlots>();
        services.AddSingleton<UnverifiedTraffic>();
        services.AddSingleton(_ => new SourceBuckets(settings));
        services.AddRateLimiter(options =>
        {
            // The host's other rate-limited routes (the front door's) answer as problems too.
            options.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                await Refused(context.HttpContext, StatusCodes.Status429TooManyRequests, retryAfter, "Your rate limit is exceeded").ExecuteAsync(context.HttpContext);
            };
        });
        return services;
    }

    /// <summary>A 429 or 503 problem with <c>Retry-After</c> (whole seconds, at least 1).</summary>
    internal static IResult Refused(HttpContext context, int status, TimeSpan retryAfter, string reason)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return status == StatusCodes.Status503ServiceUnavailable
            ? ProblemTypes.Problem(ProblemTypes.ServerBusy, status, "Server busy", $"{reason}; retry after {seconds} s.")
            : ProblemTypes.Problem(ProblemTypes.RateLimited, status, "Too many requests", $"{reason}; retry after {seconds} s.");
    }
}

/// <summary>A token bucket per configured source, spent by verified webhooks only.</summary>
internal sealed class SourceBuckets(WebhookIngestionSettings settings) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(name =>
    {
        var source = settings.Sources[name];
        return RateLimitPartition.GetTokenBucketLimiter(name, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = source.Burst,
            TokensPerPeriod = source.RatePerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    });

    /// <returns>Null when <paramref name="source"/> had a token; otherwise how long until it has one.</returns>
    public TimeSpan? TrySpend(string source)
    {
        using var lease = _limiter.AttemptAcquire(source);
        return lease.IsAcquired ? null : lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
    }

    public void Dispose() => _limiter.Dispose();
}
