using System.Security.Claims;
using System.Text;
using System.Text.Json;
using EventBackbone.Console.Api;
using EventBackbone.Console.Components.SignIn;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Console.SignIn;

/// <summary>The posted dev sign-in form: a pasted token, or (embedded) a request to mint one.</summary>
internal sealed class DevSignInForm
{
    public string? Token { get; set; }

    public bool Mint { get; set; }

    public string? Subject { get; set; }

    public string[]? Scopes { get; set; }

    public string? ReturnUrl { get; set; }
}

/// <summary>
/// <c>/sign-in/dev</c>, mapped only in Development and embedded mode (<see cref="ConsoleModule.MapConsole"/>): the
/// operator pastes a bearer token (e.g. from <c>dev-token</c>), or in embedded mode has the host mint one with its dev
/// signing key. The token goes into the same server-side ticket an OpenID Connect sign-in fills.
/// </summary>
internal static class DevSignInEndpoints
{
    public const string Path = "/sign-in/dev";

    public static void MapDevSignIn(this IEndpointRouteBuilder endpoints, DevSignIn mode)
    {
        endpoints.MapGet(Path, (string? returnUrl) => Page(mode, LocalUrls.OrHome(returnUrl), error: null))
            .ExcludeFromDescription();
        // [FromForm] makes UseAntiforgery validate the token: a POST without it is refused (400) before this runs.
        endpoints.MapPost(Path, async Task<IResult> ([FromForm] DevSignInForm form, HttpContext context, BackboneAuthSettings auth) =>
            {
                var returnUrl = LocalUrls.OrHome(form.ReturnUrl);
                string token;
                if (form.Mint && mode == DevSignIn.PasteOrMint)
                {
                    // Minting signs with the host's key for whatever subject is typed: offered to this machine only, so
                    // an embedded host bound to 0.0.0.0 does not hand operator tokens (and a chosen audit name) to its network.
                    if (context.Connection.RemoteIpAddress is not { } caller || !System.Net.IPAddress.IsLoopback(caller))
                    {
                        return Page(mode, returnUrl, "A token is minted only for a browser on this machine. Paste one instead.");
                    }

                    if (auth.SigningKeys.Count == 0)
                    {
                        return Page(mode, returnUrl, "This host has no Backbone:Auth:SigningKeys, so it cannot mint a token. Paste one instead.");
                    }

                    var subject = string.IsNullOrWhiteSpace(form.Subject) ? "operator" : form.Subject.Trim();
                    token = DevTokens.Mint(auth, subject, [.. (form.Scopes ?? []).Where(OperatorScopes.Contains)], SessionLimit, DateTime.UtcNow);
                }
                else if (string.IsNullOrWhiteSpace(form.Token))
                {
                    return Page(mode, returnUrl, "Paste a bearer token.");
                }
                else
                {
                    token = form.Token.Trim();
                }

                if (Claims(token) is not { } claims)
                {
                    return Page(mode, returnUrl, "That is not a JWT (three base64url parts separated by dots).");
                }

                var properties = new AuthenticationProperties { IsPersistent = false, ExpiresUtc = Expiry(claims) };
                properties.StoreTokens([new AuthenticationToken { Name = ConsoleAuthentication.AccessToken, Value = token }]);
                var identity = new ClaimsIdentity(
                    claims.Where(x => x.Type is "sub" or "client_id" or "name"), ConsoleAuthentication.CookieScheme, "sub", "role");
                await context.SignInAsync(ConsoleAuthentication.CookieScheme, new ClaimsPrincipal(identity), properties);
                return Results.LocalRedirect(returnUrl);
            })
            .ExcludeFromDescription();
    }

    private static RazorComponentResult<DevSignInPage> Page(DevSignIn mode, string returnUrl, string? error) =>
        new(new { CanMint = mode == DevSignIn.PasteOrMint, ReturnUrl = returnUrl, Error = error, Scopes = OperatorScopes })
        {
            StatusCode = error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest,
        };

    private static readonly IReadOnlyList<string> OperatorScopes =
    [
        OperatorPermissions.ReadScope, OperatorPermissions.ReplayScope, OperatorPermissions.EditScope, OperatorPermissions.DeleteScope,
        OperatorPermissions.ReportsScope, OperatorPermissions.SignupsScope,
    ];

    /// <summary>The token's claims as it states them, unverified: the APIs verify it on every call.</summary>
    private static List<Claim>? Claims(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            using var json = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
            return [.. json.RootElement.EnumerateObject()
                .Where(x => x.Value.ValueKind is JsonValueKind.String or JsonValueKind.Number)
                .Select(x => new Claim(x.Name, x.Value.ToString()))];
        }
        catch (Exception malformed) when (malformed is FormatException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The token's own expiry, but never more than a working day away: the claim is unverified, and a far-future one
    /// both threw (past year 9999: a 500) and kept a session in the in-memory store for ever.
    /// </summary>
    private static DateTimeOffset Expiry(List<Claim> claims)
    {
        var latest = DateTimeOffset.UtcNow.Add(SessionLimit);
        return claims.FirstOrDefault(x => x.Type == "exp") is { } exp && long.TryParse(exp.Value, out var seconds)
            && seconds < latest.ToUnixTimeSeconds()
            ? DateTimeOffset.FromUnixTimeSeconds(Math.Max(seconds, 0))
            : latest;
    }

    private static readonly TimeSpan SessionLimit = TimeSpan.FromHours(8);
}
