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
        if (!context.Request.Path.StartsWithSegments("/api/v1/dead-letters", StringComparison.OrdinalIgnoreCase))
        {
            await _standard.HandleAsync(next, context, policy, authorizeResult);
            return;
        }

        if (authorizeResult.Challenged || authorizeResult.Forbidden)
        {
            await AuditAsync(context, context.User.Identity?.IsAuthenticated == true ? BackboneAuthentication.CallerId(context.User) : "anonymous",
                authorizeResult.Forbidden ? "refused-403" : "refused-401");
        }
        else if (BackboneAuthentication.IdentifiedCaller(context.User) is null)
        {
            // A valid, scoped token without sub, client_id or azp: its deletes and replays would be audited as
            // "anonymous", answerable to no one. Refused like the commands refuse it, and the refusal is audited.
            await AuditAsync(context, "unidentified", "refused-403");
            await BackboneAuthentication.UnidentifiedCallerRefusal("dead-letter actions are audited per caller").ExecuteAsync(context);
            return;
        }

        await _standard.HandleAsync(next, context, policy, authorizeResult);
    }

    private async Task AuditAsync(HttpContext context, string actor, string action)
    {
        var db = context.RequestServices.GetRequiredService<DeadLettersDbContext>();
        db.Audit.Add(new AuditEntry
        {
            At = clock.GetUtcNow(),
            Actor = actor,
            Action = action,
            Detail = Describe(context.Request, context.Connection.RemoteIpAddress),
        });
        await db.SaveChangesAsync(context.RequestAborted);
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
