using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// Dead letters in embedded mode: in-process capture (<see cref="InProcessCapture"/>), the in-memory store, replay on
/// the in-memory transport and the operators' API at the dead-letter service's routes — the whole operator loop with
/// no server installed.
/// </summary>
internal static class EmbeddedDeadLetters
{
    public static WebApplicationBuilder AddEmbeddedDeadLetters(this WebApplicationBuilder builder)
    {
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<InMemoryDeadLetterStore>();
        builder.Services.AddSingleton<InMemoryReplayer>();
        builder.Services.AddSingleton<InMemoryReplayJobs>();
        builder.Services.AddHostedService(services => services.GetRequiredService<InMemoryReplayJobs>());
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, RefusedCallAudit>();
        return builder;
    }

    public static WebApplication MapEmbeddedDeadLetters(this WebApplication app)
    {
        app.MapEmbeddedDeadLetterApi();
        return app;
    }

    /// <summary>
    /// As the dead-letter service does: every refused call under the prefix (401, 403, a token naming no caller) is
    /// audited before it is answered, so an operator forcing an action the console disabled leaves a record.
    /// </summary>
    private sealed class RefusedCallAudit(InMemoryDeadLetterStore store) : IAuthorizationMiddlewareResultHandler
    {
        private readonly AuthorizationMiddlewareResultHandler _standard = new();

        public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
        {
            if (!context.Request.Path.StartsWithSegments("/api/v1/dead-letters", StringComparison.OrdinalIgnoreCase))
            {
                await _standard.HandleAsync(next, context, policy, authorizeResult);
                return;
            }

            var detail = $"{context.Request.Method} {context.Request.Path} from {context.Connection.RemoteIpAddress}";
            if (authorizeResult.Challenged || authorizeResult.Forbidden)
            {
                var actor = context.User.Identity?.IsAuthenticated == true ? BackboneAuthentication.CallerId(context.User) : "anonymous";
                store.Transaction(s =>
                {
                    s.AddAudit(actor, authorizeResult.Forbidden ? "refused-403" : "refused-401", null, detail);
                    return 0;
                });
            }
            else if (BackboneAuthentication.IdentifiedCaller(context.User) is null)
            {
                store.Transaction(s =>
                {
                    s.AddAudit("unidentified", "refused-403", null, detail);
                    return 0;
                });
                await BackboneAuthentication.UnidentifiedCallerRefusal("dead-letter actions are audited per caller").ExecuteAsync(context);
                return;
            }

            await _standard.HandleAsync(next, context, policy, authorizeResult);
        }
    }
}
