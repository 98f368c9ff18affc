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
        if ((authorizeResult.Challenged || authorizeResult.Forbidden)
            && context.Request.Path.StartsWithSegments("/api/v1/dead-letters", StringComparison.Ordinal))
        {
            var db = context.RequestServices.GetRequiredService<DeadLettersDbContext>();
            db.Audit.Add(new AuditEntry
            {
                At = clock.GetUtcNow(),
                Actor = context.User.Identity?.IsAuthenticated == true ? BackboneAuthentication.CallerId(context.User) : "anonymous",
                Action = authorizeResult.Forbidden ? "refused-403" : "refused-401",
                Detail = $"{context.Request.Method} {context.Request.Path}",
            });
            await db.SaveChangesAsync(context.RequestAborted);
        }

        await _standard.HandleAsync(next, context, policy, authorizeResult);
    }
}
