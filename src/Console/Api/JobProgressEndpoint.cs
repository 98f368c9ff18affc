using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Console.Api;

/// <summary>
/// <c>/replays/{jobId}/progress</c>: the job's status as JSON for the job page's script, which polls it every 2 s
/// (no WebSockets: Kestrel refuses upgrades here). Without script the page's Refresh link does the same.
/// </summary>
internal static class JobProgressEndpoint
{
    public static void MapJobProgress(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/replays/{jobId:guid}/progress", async (Guid jobId, BackboneApi api, CancellationToken cancellationToken) =>
            {
                var job = await api.JobAsync(jobId, cancellationToken);
                return job.Ok
                    ? Results.Json(job.Value)
                    : Results.Problem(statusCode: job.Problem.Status == 0 ? StatusCodes.Status502BadGateway : job.Problem.Status, title: job.Problem.Title, detail: job.Problem.Detail);
            })
            .RequireAuthorization(SignIn.ConsoleAuthentication.OperatorPolicy)
            .ExcludeFromDescription();
}
