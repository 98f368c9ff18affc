using EventBackbone.ServiceDefaults.Authentication;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Sagas.Signups;

public sealed record SignupView(
    Guid SignupId, string State, string Email, Guid? UserId, DateTimeOffset RequestedAt, DateTimeOffset? EndedAt,
    int RemindersSent, string? RejectionReason, string? LastNotificationFailure, IReadOnlyList<SignupHistoryEntry> History);

public static class SignupEndpoints
{
    public const string ReadScope = OperatorScopes.SignupsRead;

    public static IEndpointRouteBuilder MapSignupEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/v1/signups/{signupId:guid}", GetAsync)
            .WithName("GetSignup")
            .RequireScope(ReadScope)
            .Produces<SignupView>()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    /// <summary>Read through the saga repository, so it works on PostgreSQL and on the embedded in-memory store alike.</summary>
    private static async Task<IResult> GetAsync(Guid signupId, ILoadSagaRepository<SignupState> signups)
    {
        var signup = await signups.Load(signupId);
        if (signup is null)
        {
            return Results.Problem(
                type: "https://eventbackbone.dev/problems/signup-not-found",
                statusCode: StatusCodes.Status404NotFound,
                title: "Signup not found",
                detail: $"No signup has id {signupId}.");
        }

        return Results.Ok(new SignupView(
            signup.CorrelationId, signup.CurrentState ?? "Initial", signup.Email, signup.UserId, signup.RequestedAt, signup.EndedAt,
            signup.RemindersSent, signup.RejectionReason, signup.LastNotificationFailure, SignupHistory.Read(signup)));
    }
}
