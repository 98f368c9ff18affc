using System.Globalization;
using System.Threading.RateLimiting;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;

namespace EventBackbone.Ingestion.Api.FrontDoor;

/// <summary>
/// Where the front door sends what it does not own: <c>Backbone:Gateway:Workers</c> (reports, its outbox status),
/// <c>Backbone:Gateway:Sagas</c> (signups, its outbox status) and <c>Backbone:Gateway:DeadLetters</c> (dead letters), each a base URL.
/// A route whose host is not configured is not proxied (in embedded mode those endpoints are in this process).
/// </summary>
/// <param name="RefusedCallsAuditedPerSecond">Per caller address: refused dead-letter calls passed on to the service's audit (see <see cref="RefusedCallForwarding"/>).</param>
public sealed record FrontDoorSettings(Uri? Workers, Uri? Sagas, Uri? DeadLetters, int RequestsPerSecond, int RefusedCallsAuditedPerSecond = 5)
{
    public bool RoutesAnything => Workers is not null || Sagas is not null || DeadLetters is not null;

    public static FrontDoorSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        return new FrontDoorSettings(
            settings.AbsoluteUri("Backbone:Gateway:Workers"),
            settings.AbsoluteUri("Backbone:Gateway:Sagas"),
            settings.AbsoluteUri("Backbone:Gateway:DeadLetters"),
            settings.Int("Backbone:Gateway:RequestsPerSecond", 100, 1, 100_000),
            settings.Int("Backbone:Gateway:RefusedCallsAuditedPerSecond", 5, 1, 10_000));
    }
}

/// <summary>
/// Ingestion.Api is the one public entry: it proxies <c>/api/v1/reports</c>, <c>/api/v1/signups</c>,
/// <c>/api/v1/dead-letters</c> and <c>/api/v1/outbox/workers|sagas</c> to the hosts that own them (YARP). At the edge a caller needs a valid token (a forged or
/// expired one never reaches a service) and is rate limited per subject; the request is logged here like every other.
/// Each service still checks the token and its scopes itself: the edge is a first line, not the only one.
/// </summary>
public static class FrontDoor
{
    public const string AuthorizationPolicy = "front-door";
    public const string RateLimiterPolicy = "front-door";
    internal const string DeadLettersCluster = "dead-letters";

    public static WebApplicationBuilder AddFrontDoor(this WebApplicationBuilder builder)
    {
        var settings = FrontDoorSettings.Load(builder.Configuration);
        builder.Services.AddSingleton(settings);
        if (!settings.RoutesAnything)
        {
            return builder;
        }

        var routes = new List<RouteConfig>();
        var clusters = new List<ClusterConfig>();
        void Route(string name, Uri? destination, params string[] paths)
        {
            if (destination is null)
            {
                return;
            }

            clusters.Add(new ClusterConfig
            {
                ClusterId = name,
                Destinations = new Dictionary<string, DestinationConfig>(StringComparer.Ordinal) { [name] = new() { Address = destination.ToString() } },
            });
            routes.AddRange(paths.Select((path, index) => new RouteConfig
            {
                RouteId = $"{name}-{index.ToString(CultureInfo.InvariantCulture)}",
                ClusterId = name,
                Match = new RouteMatch { Path = path },
                AuthorizationPolicy = AuthorizationPolicy,
                RateLimiterPolicy = RateLimiterPolicy,
            }));
        }

        // Each host answers for its own outbox; the front door's own (ingestion) is served here.
        Route("workers", settings.Workers, "/api/v1/reports/{**rest}", "/api/v1/outbox/workers");
        Route("sagas", settings.Sagas, "/api/v1/signups/{**rest}", "/api/v1/outbox/sagas");
        Route(DeadLettersCluster, settings.DeadLetters, "/api/v1/dead-letters", "/api/v1/dead-letters/{**rest}");
        builder.Services.AddReverseProxy().LoadFromMemory(routes, clusters);
        if (settings.DeadLetters is not null)
        {
            // README promises every refused dead-letter call is audited, also those refused here at the edge.
            builder.Services.AddHttpClient(RefusedCallForwarding.ClientName, client => client.Timeout = TimeSpan.FromSeconds(10))
                .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
            builder.Services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, RefusedCallForwarding>();
        }

        builder.Services.AddAuthorizationBuilder().AddPolicy(AuthorizationPolicy, policy => policy.RequireAuthenticatedUser());
        builder.Services.AddRateLimiter(options => options.AddPolicy(RateLimiterPolicy, context =>
            // Per caller: one busy script must not starve the operators' console.
            RateLimitPartition.GetTokenBucketLimiter(
                context.User.Identity?.IsAuthenticated == true
                    ? BackboneAuthentication.CallerId(context.User)
                    : context.Connection.RemoteIpAddress?.ToString() ?? "anonymous",
                _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = settings.RequestsPerSecond * 2,
                    TokensPerPeriod = settings.RequestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                })));
        return builder;
    }

    public static WebApplication MapFrontDoor(this WebApplication app)
    {
        if (app.Services.GetRequiredService<FrontDoorSettings>().RoutesAnything)
        {
            app.MapReverseProxy();
        }

        return app;
    }
}
