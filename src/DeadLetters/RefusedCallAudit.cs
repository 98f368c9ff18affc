using EventBackbone.DeadLetters.Persistence;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.DeadLetters;

/// <summary>
/// Records every refused call (401 without a valid token, 403 without the permission) in the audit before the standard
/// handler answers it: probing the operators' API is itself something operators need to see.
/// </summary>
public sealed class RefusedCallAudit(TimeProvider clock) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _standard = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        // Routing matches paths whatever their case, so this must too: /API/V1/DEAD-LETTERS reached the same endpoints
        // and its refusals went unrecorded.
        if ((authorizeResult.Challenged || authorizeResult.Forbidden)
            && context.Request.Path.StartsWithSegments("/api/v1/dead-letters", StringComparison.OrdinalIgnoreCase))
        {
            var db = context.RequestServices.GetRequiredService<DeadLettersDbContext>();
            db.Audit.Add(new AuditEntry
            {
                At = clock.GetUtcNow(),
                Actor = context.User.Identity?.IsAuthenticated == true ? BackboneAuthentication.CallerId(context.User) : "anonymous",
                Action = authorizeResult.Forbidden ? "refused-403" : "refused-401",
                Detail = Describe(context.Request, context.Connection.RemoteIpAddress),
            });
            await db.SaveChangesAsync(context.RequestAborted);
        }

        await _standard.HandleAsync(next, context, policy, authorizeResult);
    }

    /// <summary>
    /// What was tried and from where: the peer's address and, when present, the <c>X-Forwarded-For</c> it sent — the
    /// front door names the refused caller there. Both are recorded, not one trusted: a direct caller can write any
    /// header, and the peer address says whether the call came through the front door.
    /// </summary>
    private static string Describe(HttpRequest request, System.Net.IPAddress? peer)
    {
        var detail = $"{request.Method} {request.Path}";
        if (peer is not null)
        {
            detail += $" from {peer}";
        }

        var forwardedFor = request.Headers["X-Forwarded-For"].ToString();
        if (forwardedFor.Length > 0)
        {
            // Bounded: a header is the caller's to fill, the audit row is not.
            detail += $" (X-Forwarded-For: {(forwardedFor.Length > 100 ? forwardedFor[..100] + "…" : forwardedFor)})";
        }

        return detail;
    }
}
