using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Console.Security;

/// <summary>
/// The console's response headers. The policy allows only the console's own files: an injected script or style
/// (a message body or header shown on a page is attacker-controlled text) does not run, no page can be framed
/// (click-jacking a "Replay" button), and no form can post elsewhere.
/// </summary>
internal static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'self'";

    /// <summary>
    /// Paths the console does not serve in the embedded host (the APIs and their interactive reference, which needs
    /// scripts of its own); the console's own host serves none of them but health and metrics.
    /// </summary>
    private static readonly PathString[] NotConsole = ["/api", "/openapi", "/docs", "/scalar"];

    /// <summary>
    /// First in the pipeline (a startup filter), so the answers other middleware ends early carry them too: the
    /// redirect to sign-in, a 400 from antiforgery, an error page.
    /// </summary>
    public static IServiceCollection AddConsoleSecurityHeaders(this IServiceCollection services) =>
        services.AddTransient<IStartupFilter, HeadersFirst>();

    private sealed class HeadersFirst : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseConsoleSecurityHeaders();
            next(app);
        };
    }

    private static IApplicationBuilder UseConsoleSecurityHeaders(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (!NotConsole.Any(prefix => context.Request.Path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase)))
            {
                context.Response.OnStarting(() =>
                {
                    var headers = context.Response.Headers;
                    headers.ContentSecurityPolicy = ContentSecurityPolicy;
                    headers.XContentTypeOptions = "nosniff";
                    headers["Referrer-Policy"] = "no-referrer";
                    return Task.CompletedTask;
                });
            }

            return next(context);
        });
}
