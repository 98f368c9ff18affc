using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Ingestion.Api.FrontDoor;

/// <param name="Caller">The token's subject, else its client; null when it names neither.</param>
/// <param name="Scopes">Every scope the token grants, in its order.</param>
/// <param name="Can">What those scopes allow, one flag per kind of operator action.</param>
internal sealed record CallerPermissions(string? Caller, IReadOnlyList<string> Scopes, AllowedActions Can);

/// <param name="Read">Dead letters, their groups and audit, and every service's outbox status (<c>dead-letters:read</c>).</param>
/// <param name="Replay">Replay, dry runs and replay jobs (<c>dead-letters:replay</c>).</param>
/// <param name="Edit">Archive, restore, group notes, edit-and-replay (<c>dead-letters:edit</c>).</param>
/// <param name="Delete">Delete dead letters (<c>dead-letters:delete</c>).</param>
/// <param name="Reports">The Workers host's reports (<c>reports:read</c>).</param>
/// <param name="Signups">A signup's state and history on the Sagas host (<c>signups:read</c>).</param>
internal sealed record AllowedActions(bool Read, bool Replay, bool Edit, bool Delete, bool Reports, bool Signups);

/// <summary>
/// <c>GET /api/v1/me/permissions</c>, answered by the front door itself for any valid token: what the sign-in's scopes
/// allow, so the console disables what the operator lacks. Advisory only: each service still checks its own scope
/// (and audits the refusal) when a disabled action is forced.
/// </summary>
internal static class CallerPermissionsEndpoint
{
    public static IEndpointRouteBuilder MapCallerPermissions(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/v1/me/permissions", (HttpContext context) =>
            {
                var user = context.User;
                return Results.Ok(new CallerPermissions(
                    BackboneAuthentication.IdentifiedCaller(user),
                    BackboneAuthentication.Scopes(user),
                    new AllowedActions(
                        BackboneAuthentication.HasScope(user, OperatorScopes.DeadLettersRead),
                        BackboneAuthentication.HasScope(user, OperatorScopes.DeadLettersReplay),
                        BackboneAuthentication.HasScope(user, OperatorScopes.DeadLettersEdit),
                        BackboneAuthentication.HasScope(user, OperatorScopes.DeadLettersDelete),
                        BackboneAuthentication.HasScope(user, OperatorScopes.ReportsRead),
                        BackboneAuthentication.HasScope(user, OperatorScopes.SignupsRead))));
            })
            .RequireAuthorization()
            .WithName("GetMyPermissions")
            .WithTags("Operators")
            .Produces<CallerPermissions>()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        return endpoints;
    }
}
