using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// A token bucket per webhook source, from its configuration: one noisy sender cannot starve the others or the
/// database. Refusals are 429 problems with <c>Retry-After</c>, before the body is read or anything is stored.
/// </summary>
public static class WebhookRateLimiting
{
    public const string Policy = "webhook-source";

    public static IServiceCollection AddWebhookRateLimiting(this IServiceCollection services, WebhookIngestionSettings settings)
    {
        services.AddRateLimiter(options =>
        {
            options.AddPolicy(Policy, context =>
            {
                var name = context.Request.RouteValues["source"] as string ?? "";
                // Unknown sources share one small bucket: they are answered 404 anyway, but must not cost unbounded work.
                var (rate, burst) = settings.Sources.TryGetValue(name, out var source) ? (source.RatePerSecond, source.Burst) : (10, 10);
                return RateLimitPartition.GetTokenBucketLimiter(
                    settings.Sources.ContainsKey(name) ? name : "(unknown)",
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = burst,
                        TokensPerPeriod = rate,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    });
            });
            options.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                // One rejection handler serves every policy of the host: only a webhook has a source.
                var limited = context.HttpContext.GetRouteValue("source") as string;
                if (limited is not null)
                {
                    context.HttpContext.RequestServices.GetRequiredService<WebhookMetrics>()
                        .Rejected(settings.Sources.ContainsKey(limited) ? limited : "unknown", "rate-limited");
                }

                await ProblemTypes.Problem(ProblemTypes.RateLimited, StatusCodes.Status429TooManyRequests,
                        "Too many requests", $"{(limited is not null ? "This source's" : "Your")} rate limit is exceeded; retry after {seconds} s.")
                    .ExecuteAsync(context.HttpContext);
            };
        });
        return services;
    }
}
