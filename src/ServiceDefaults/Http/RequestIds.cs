using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EventBackbone.ServiceDefaults.Http;

/// <summary>
/// Every response names its request in <c>X-Request-Id</c>, and problem bodies repeat it as <c>requestId</c>, so a
/// sender's support ticket leads straight to our log lines: ASP.NET Core's request log scope carries the same value as
/// <c>RequestId</c> on every line written while the request runs.
/// </summary>
public static class RequestIds
{
    public const string Header = "X-Request-Id";

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            // Set before the rest of the pipeline runs: a response that starts early (a problem, a 429) still has it.
            context.Response.Headers[Header] = context.TraceIdentifier;
            return next(context);
        });
}
