using EventBackbone.Console.Components.SignIn;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Console.SignIn;

/// <summary>Sign-out, and the page that continues after an OpenID Connect sign-in (<see cref="SignedInPage"/>).</summary>
internal static class SessionEndpoints
{
    public static void MapSignOut(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPost("/sign-out", async Task<IResult> (HttpContext context, IAntiforgery antiforgery) =>
            {
                // UseAntiforgery only records the check for an endpoint that binds no form; refusing is the endpoint's job.
                if (!await antiforgery.IsRequestValidAsync(context))
                {
                    return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "A valid antiforgery token was not provided.");
                }

                // Removes the server-side ticket too: a copy of the cookie names nothing any more.
                await context.SignOutAsync(ConsoleAuthentication.CookieScheme);
                return new RazorComponentResult<NoticePage>(new
                {
                    Title = "Signed out",
                    Message = "You are signed out of the console.",
                    LinkText = "Sign in again",
                    LinkUrl = "/",
                });
            })
            // Authenticated by the console's cookie, so the antiforgery token (bound to the operator) is checked as theirs.
            .RequireAuthorization(ConsoleAuthentication.OperatorPolicy)
            .ExcludeFromDescription();
}

/// <summary>
/// <c>/signed-in?returnUrl=</c>: where an OpenID Connect sign-in lands. The provider's redirect is cross-site, so the
/// browser withholds the SameSite=Strict session cookie on it; this page's own refresh and link are same-site and do
/// carry it.
/// </summary>
internal static class SignedInPage
{
    public const string Path = "/signed-in";

    public static string For(string? returnUrl) => $"{Path}?returnUrl={Uri.EscapeDataString(LocalUrls.OrHome(returnUrl))}";

    public static void MapSignedInPage(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(Path, (string? returnUrl) =>
            {
                var target = LocalUrls.OrHome(returnUrl);
                return new RazorComponentResult<NoticePage>(new
                {
                    Title = "Signed in",
                    Message = "You are signed in.",
                    LinkText = "Continue",
                    LinkUrl = target,
                    RefreshTo = target,
                });
            })
            .ExcludeFromDescription();
}
