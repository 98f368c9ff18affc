using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Persistence;

/// <summary>
/// A request that failed because PostgreSQL could not be reached is answered 503 with <c>Retry-After</c>, as a problem,
/// instead of a 500: the caller learns that retrying later is right, and nothing was accepted because the transaction
/// that would have accepted it never committed.
/// </summary>
internal sealed partial class DatabaseUnavailableHandler(ILogger<DatabaseUnavailableHandler> logger) : IExceptionHandler
{
    public const string ProblemType = "https://eventbackbone.dev/problems/database-unavailable";
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!DatabaseFailures.IsUnavailable(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }

        LogUnavailable(logger, exception.GetBaseException().Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Results.Problem(
            type: ProblemType,
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Database unavailable",
            detail: "The request was not accepted because the database is unreachable; retry later.").ExecuteAsync(httpContext);
        return true;
    }

    [LoggerMessage(LogLevel.Warning, "Answered 503: the database is unreachable ({Reason})")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}
