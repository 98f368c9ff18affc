using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace EventBackbone.Console.SignIn;

/// <summary>
/// The operator's session: a cookie that names a server-side ticket (<see cref="InMemoryTicketStore"/>) holding the
/// access token, and OpenID Connect (code + PKCE) when <c>Backbone:Auth:Authority</c> is set. The schemes have names of
/// their own and are never the host's default, so in the embedded host the APIs keep checking bearer tokens.
/// </summary>
internal static class ConsoleAuthentication
{
    public const string CookieScheme = "BackboneConsole";
    public const string OidcScheme = "BackboneConsoleOidc";
    public const string CookieName = "backbone-console";
    public const string AccessToken = "access_token";

    /// <summary>The authorization policy every console page requires: a signed-in operator, by the console's cookie.</summary>
    public const string OperatorPolicy = "BackboneConsoleOperator";

    public static void AddConsoleAuthentication(this IServiceCollection services, ConsoleSettings settings)
    {
        services.AddSingleton<ITicketStore, InMemoryTicketStore>();
        var authentication = services.AddAuthentication();
        authentication.AddCookie(CookieScheme, options =>
        {
            options.Cookie.Name = CookieName;
            options.Cookie.HttpOnly = true;
            // Strict: no other site can make the browser send it, so no cross-site request acts as the operator.
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = settings.SecureCookies ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
            options.ExpireTimeSpan = TimeSpan.FromHours(8);
            options.SlidingExpiration = false;
            options.LoginPath = DevSignInEndpoints.Path;
            options.AccessDeniedPath = "/me";
            if (settings.Authority is not null)
            {
                options.ForwardChallenge = OidcScheme;
            }
        });
        // The store is a singleton service; the cookie handler takes it from its options.
        services.AddOptions<CookieAuthenticationOptions>(CookieScheme)
            .Configure<ITicketStore>((options, store) => options.SessionStore = store);

        if (settings.Authority is not null)
        {
            authentication.AddOpenIdConnect(OidcScheme, options =>
            {
                options.SignInScheme = CookieScheme;
                options.SignOutScheme = CookieScheme;
                options.Authority = settings.Authority.ToString();
                // Plain http only where Backbone:Auth:AllowInsecureAuthority allowed it (checked by BackboneAuthSettings).
                options.RequireHttpsMetadata = settings.Authority.Scheme == Uri.UriSchemeHttps;
                options.ClientId = settings.ClientId;
                options.ClientSecret = settings.ClientSecret;
                options.ResponseType = OpenIdConnectResponseType.Code;
                options.UsePkce = true;
                // Saved into the ticket, which lives in the server-side store: the browser holds only its key.
                options.SaveTokens = true;
                // The session ends with the access token: an 8-hour cookie outliving a 1-hour token left the operator
                // signed in to pages whose every API call answered 401, with no way back but signing out by hand.
                options.UseTokenLifetime = true;
                options.MapInboundClaims = false;
                options.TokenValidationParameters.NameClaimType = "sub";
                options.Scope.Clear();
                foreach (var scope in settings.Scopes)
                {
                    options.Scope.Add(scope);
                }

                options.Events.OnTicketReceived = context =>
                {
                    // The identity provider's redirect is a cross-site navigation, and a browser does not send a
                    // SameSite=Strict cookie on it or on redirects it leads to: going straight back to the page would
                    // find no session and start another sign-in, for ever. /signed-in continues from this site.
                    context.ReturnUri = SignedInPage.For(context.ReturnUri);
                    return Task.CompletedTask;
                };
            });
        }

        services.AddAuthorizationBuilder().AddPolicy(OperatorPolicy, policy => policy
            .AddAuthenticationSchemes(CookieScheme)
            .RequireAuthenticatedUser());
    }

    /// <summary>The operator's access token, from the server-side ticket, or null when not signed in.</summary>
    public static Task<string?> AccessTokenAsync(HttpContext context) => context.GetTokenAsync(CookieScheme, AccessToken);
}
