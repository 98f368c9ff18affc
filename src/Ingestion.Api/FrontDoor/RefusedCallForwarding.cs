using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Model;

namespace EventBackbone.Ingestion.Api.FrontDoor;

/// <summary>
/// A call to <c>/api/v1/dead-letters</c> that the front door refuses (no valid token: 401 here, nothing proxied) is
/// still told to the dead-letter service, whose audit promises every refused call: the edge sends the service the same
/// method and path as a request of its own — no body, no query, none of the caller's headers (so no token, forged or
/// not), only <c>X-Forwarded-For</c> with the caller's address — which the service refuses and audits like any other.
/// The caller gets the edge's own 401 whatever the service answers.
/// </summary>
/// <remarks>
/// Why this and not an internal audit endpoint: the service already audits its refusals (one code path, one record
/// shape), and a forwarded request carries no credential the service would have to trust — an audit endpoint would need
/// one, and would let anyone holding it write audit rows. The forward is bounded per caller address
/// (<c>Backbone:Gateway:RefusedCallsAuditedPerSecond</c>): beyond it the edge answers 429 without forwarding, so a flood
/// of anonymous calls cannot become a flood of audit inserts (no amplification), and every 401 answered is on record.
/// </remarks>
internal sealed partial class RefusedCallForwarding : IAuthorizationMiddlewareResultHandler, IDisposable
{
    public const string ClientName = "front-door-refused-calls";

    private readonly AuthorizationMiddlewareResultHandler _standard = new();
    private readonly FrontDoorSettings _settings;
    private readonly IHttpClientFactory _clients;
    private readonly ILogger<RefusedCallForwarding> _logger;
    private readonly PartitionedRateLimiter<string> _perAddress;

    public RefusedCallForwarding(FrontDoorSettings settings, IHttpClientFactory clients, ILogger<RefusedCallForwarding> logger)
    {
        _settings = settings;
        _clients = clients;
        _logger = logger;
        _perAddress = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = settings.RefusedCallsAuditedPerSecond * 2,
            TokensPerPeriod = settings.RefusedCallsAuditedPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged
            && _settings.DeadLetters is { } service
            && context.GetEndpoint()?.Metadata.GetMetadata<RouteModel>()?.Config.ClusterId == FrontDoor.DeadLettersCluster)
        {
            var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
            using var lease = _perAddress.AttemptAcquire(address);
            if (!lease.IsAcquired)
            {
                context.Response.Headers.RetryAfter = "1";
                await ProblemTypes.Problem(ProblemTypes.RateLimited, StatusCodes.Status429TooManyRequests, "Too many requests",
                    "Too many refused calls from this address; try again later.").ExecuteAsync(context);
                return;
            }

            await ForwardAsync(context, service, address);
        }

        await _standard.HandleAsync(next, context, policy, authorizeResult);
    }

    public void Dispose() => _perAddress.Dispose();

    private async Task ForwardAsync(HttpContext context, Uri service, string address)
    {
        try
        {
            using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(service, context.Request.Path.ToUriComponent()));
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", address);
            using var response = await _clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            if (response.StatusCode != System.Net.HttpStatusCode.Unauthorized)
            {
                // The service accepted an anonymous call the edge refused: the two disagree about what needs a token.
                LogUnexpectedAnswer(_logger, (int)response.StatusCode);
            }
        }
        catch (Exception failed) when (failed is HttpRequestException or TaskCanceledException)
        {
            // The caller still gets the edge's 401 (refusing never depends on the service); only the audit row is lost.
            LogNotAudited(_logger, failed.GetType().Name);
        }
    }

    [LoggerMessage(LogLevel.Warning, "A refused dead-letter call could not be passed on for the audit: {Failure}")]
    private static partial void LogNotAudited(ILogger logger, string failure);

    [LoggerMessage(LogLevel.Warning, "The dead-letter service answered {Status}, not 401, to a refused call passed on for the audit")]
    private static partial void LogUnexpectedAnswer(ILogger logger, int status);
}
