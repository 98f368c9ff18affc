using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Console.Tests;

/// <summary>
/// A real HTTP server on a free loopback port standing in for the front door's answers the pages render, and for an
/// identity provider's discovery document. It records the Authorization header each API call carried.
/// </summary>
internal sealed class FakeFrontDoor : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeFrontDoor(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public List<string?> AuthorizationHeaders { get; } = [];

    public static async Task<FakeFrontDoor> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeFrontDoor? self = null;
        app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
            {
                lock (self!.AuthorizationHeaders)
                {
                    self.AuthorizationHeaders.Add(context.Request.Headers.Authorization.ToString());
                }
            }

            return next(context);
        });
        app.MapGet("/api/v1/me/permissions", () => Results.Json(new
        {
            caller = "ada",
            scopes = new[] { "dead-letters:read" },
            can = new { read = true, replay = false, edit = false, delete = false, reports = false, signups = false },
        }));
        app.MapGet("/api/v1/dead-letters/overview", () => Results.Json(new
        {
            waitingByQueue = new[] { new { queue = "signups_error", count = 3 } },
            largestGroups = Array.Empty<object>(),
            runningJobs = Array.Empty<object>(),
            totals = new { dead = 3, archived = 0, replayed = 0 },
        }));
        app.MapGet("/api/v1/outbox/{service}", (string service) => Results.Json(new { service, pending = 0, oldestPendingAgeSeconds = (double?)null, parked = Array.Empty<object>() }));
        app.MapGet("/.well-known/openid-configuration", (HttpContext context) =>
        {
            var issuer = $"{context.Request.Scheme}://{context.Request.Host}";
            return Results.Text(
                JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["issuer"] = issuer,
                    ["authorization_endpoint"] = $"{issuer}/authorize",
                    ["token_endpoint"] = $"{issuer}/token",
                    ["jwks_uri"] = $"{issuer}/jwks",
                    ["response_types_supported"] = new[] { "code" },
                    ["subject_types_supported"] = new[] { "public" },
                    ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                    ["code_challenge_methods_supported"] = new[] { "S256" },
                }),
                "application/json");
        });
        app.MapGet("/jwks", () => Results.Text("{\"keys\":[]}", "application/json"));
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        self = new FakeFrontDoor(app, address);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
