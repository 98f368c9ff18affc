using System.Security.Claims;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace EventBackbone.ServiceDefaults.Authentication;

/// <summary>JWT bearer authentication and scope checks, the same in every host (central auth, and every service checks).</summary>
public static class BackboneAuthentication
{
    public const string UnauthorizedProblem = "https://eventbackbone.dev/problems/unauthorized";
    public const string ForbiddenProblem = "https://eventbackbone.dev/problems/forbidden";
    public const string UnidentifiedCallerProblem = "https://eventbackbone.dev/problems/unidentified-caller";

    public static WebApplicationBuilder AddBackboneAuthentication(this WebApplicationBuilder builder)
    {
        var auth = BackboneAuthSettings.Load(builder.Configuration, EmbeddedMode.IsOn(builder.Configuration));
        builder.Services.AddSingleton(auth);
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            // Claims keep their JWT names ("sub", "scope"), not the WS-* URIs the handler maps them to by default.
            options.MapInboundClaims = false;
            if (auth.Authority is not null)
            {
                options.Authority = auth.Authority.ToString();
                options.RequireHttpsMetadata = auth.Authority.Scheme == Uri.UriSchemeHttps;
            }

            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = auth.Issuer,
                ValidAudience = auth.Audience,
                IssuerSigningKeys = auth.SigningKeys,
                // Without an authority and without keys nothing can verify: refuse everything rather than trust anything.
                ValidateIssuerSigningKey = true,
                RequireSignedTokens = true,
                RequireExpirationTime = true,
                ClockSkew = TimeSpan.FromSeconds(30),
                NameClaimType = "sub",
            };
            options.Events = new JwtBearerEvents
            {
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = context.AuthenticateFailure is null
                        ? "Bearer"
                        : "Bearer error=\"invalid_token\"";
                    await Results.Problem(
                        type: UnauthorizedProblem,
                        statusCode: StatusCodes.Status401Unauthorized,
                        title: "Unauthorized",
                        detail: context.AuthenticateFailure is null
                            ? "A bearer token is required."
                            : "The bearer token is invalid or expired.").ExecuteAsync(context.HttpContext);
                },
                OnForbidden = context =>
                    Results.Problem(
                        type: ForbiddenProblem,
                        statusCode: StatusCodes.Status403Forbidden,
                        title: "Forbidden",
                        detail: "The bearer token lacks the scope this operation requires.").ExecuteAsync(context.HttpContext),
            };
        });
        builder.Services.AddAuthorization();
        return builder;
    }

    /// <summary>Requires an authenticated caller whose token grants <paramref name="scope"/>.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder endpoint, string scope)
        where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireAuthorization(policy => policy
            .AddAuthenticationSchemes(JwtBearerDefaults.AuthenticationScheme)
            .RequireAuthenticatedUser()
            .RequireAssertion(context => HasScope(context.User, scope)));

    /// <summary>Like <see cref="RequireScope{TBuilder}"/>, satisfied by any one of the scopes.</summary>
    public static TBuilder RequireAnyScope<TBuilder>(this TBuilder endpoint, params string[] scopes)
        where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireAuthorization(policy => policy
            .AddAuthenticationSchemes(JwtBearerDefaults.AuthenticationScheme)
            .RequireAuthenticatedUser()
            .RequireAssertion(context => scopes.Any(scope => HasScope(context.User, scope))));

    /// <summary>OAuth's <c>scope</c> is one space-separated string (RFC 8693); some issuers send <c>scp</c> as an array.</summary>
    public static bool HasScope(ClaimsPrincipal user, string scope) => Scopes(user).Contains(scope, StringComparer.Ordinal);

    /// <summary>Every scope the token grants, each once, in the token's order.</summary>
    public static IReadOnlyList<string> Scopes(ClaimsPrincipal user) =>
        user.FindAll(claim => claim.Type is "scope" or "scp")
            .SelectMany(claim => claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();

    /// <summary>The caller's identity for per-caller state such as idempotency keys: the token's subject, else its client.</summary>
    public static string CallerId(ClaimsPrincipal user) => IdentifiedCaller(user) ?? "anonymous";

    /// <summary>
    /// The 403 for a valid token that names no caller (<see cref="IdentifiedCaller"/> is null), for APIs that keep
    /// state or an audit per caller; <paramref name="why"/> says what would be shared or lost.
    /// </summary>
    public static IResult UnidentifiedCallerRefusal(string why) =>
        Results.Problem(type: UnidentifiedCallerProblem, statusCode: StatusCodes.Status403Forbidden, title: "Caller not identified",
            detail: $"The bearer token names no caller: it has no sub, client_id or azp claim, and {why}.");

    /// <summary>The token's subject, else its client; null when it names none of them (or only blanks).</summary>
    public static string? IdentifiedCaller(ClaimsPrincipal user) =>
        new[] { "sub", "client_id", "azp" }.Select(type => user.FindFirst(type)?.Value).FirstOrDefault(value => !string.IsNullOrWhiteSpace(value));
}
