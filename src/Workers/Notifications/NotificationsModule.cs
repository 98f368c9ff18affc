using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace EventBackbone.Workers.Notifications;

public static class NotificationsModule
{
    public static IHostApplicationBuilder AddNotifications(this IHostApplicationBuilder builder)
    {
        var settings = NotificationSettings.Load(builder.Configuration);
        builder.Services.AddSingleton(settings);
        if (settings.ProviderUrl is null)
        {
            builder.Services.AddSingleton<INotificationProvider, LoggingNotificationProvider>();
            return builder;
        }

        var baseAddress = new Uri(settings.ProviderUrl.ToString().TrimEnd('/') + "/");
        builder.Services.AddHttpClient<INotificationProvider, HttpNotificationProvider>(http => http.BaseAddress = baseAddress)
            .AddResilienceHandler("notification-provider", pipeline => pipeline
                // The whole call, retries included, stays inside the consumer's patience.
                .AddTimeout(TimeSpan.FromSeconds(10))
                // Transient failures only (HttpRetryStrategyOptions' default: network errors, 5xx, 408, 429, timeouts);
                // jittered exponential backoff so many consumers do not retry in lockstep against a recovering provider.
                .AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 3,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = TimeSpan.FromMilliseconds(200),
                })
                // A provider that keeps failing is left alone for a while instead of being hammered by every message.
                .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                {
                    FailureRatio = 0.5,
                    MinimumThroughput = 10,
                    SamplingDuration = TimeSpan.FromSeconds(30),
                    BreakDuration = TimeSpan.FromSeconds(15),
                })
                // One attempt may not hang: a slow provider counts as a failed attempt.
                .AddTimeout(TimeSpan.FromSeconds(2)));
        return builder;
    }
}
