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

    /// <summary>Method and path of every API call, in order.</summary>
    public List<string> Calls { get; } = [];

    public static readonly Guid MessageId = Guid.Parse("0b4f6c1e-6a43-4bde-9d7c-1f2a3b4c5d6e");

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
                    self.Calls.Add($"{context.Request.Method} {context.Request.Path}");
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
        var summary = new
        {
            messageId = MessageId,
            sourceQueue = "signups_error",
            targetQueue = "signups",
            reason = "fault",
            messageType = "urn:message:SignupRequested",
            exceptionType = "FormatException",
            exceptionMessage = "bad id",
            fingerprint = "fp-1",
            failureCount = 1,
            firstFailedAt = DateTimeOffset.UnixEpoch,
            lastFailedAt = DateTimeOffset.UnixEpoch,
            status = "dead",
        };
        app.MapGet("/api/v1/dead-letters", () => Results.Json(new { items = new[] { summary }, total = 1, next = (string?)null }));
        app.MapGet("/api/v1/dead-letters/{id:guid}", () => Results.Json(new
        {
            summary,
            correlationId = (Guid?)null,
            stackTrace = "at Somewhere()",
            consumerType = "SignupConsumer",
            host = "workers-1",
            contentType = "application/json",
            bodyLength = 42,
            headers = "{}",
            failures = Array.Empty<object>(),
            replays = Array.Empty<object>(),
            inputAddressMismatch = (string?)null,
        }));
        app.MapGet("/api/v1/dead-letters/{id:guid}/body", (Guid id) => Results.Json(new { messageId = id, contentType = "application/json", body = "{\"secret\":\"body-text\"}" }));
        app.MapPut("/api/v1/dead-letters/groups/{fingerprint}/note", () => Results.ValidationProblem(
            new Dictionary<string, string[]> { ["text"] = ["A note is at most 2000 characters."] }, statusCode: StatusCodes.Status422UnprocessableEntity));
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
