using EventBackbone.Console.Api;
using EventBackbone.Console.Components;
using EventBackbone.Console.Security;
using EventBackbone.Console.SignIn;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.StaticWebAssets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Console;

/// <summary>
/// The operators' console as a module: its own host (<c>src/Console</c>) and the embedded host both call
/// <see cref="AddConsole"/> and <see cref="MapConsole"/>. Pages are Razor components rendered on the server (static
/// SSR: plain links and forms, no circuit, no WebSocket), calling the APIs through the front door as the operator.
/// </summary>
public static class ConsoleModule
{
    public static WebApplicationBuilder AddConsole(this WebApplicationBuilder builder, ConsoleHosting hosting = ConsoleHosting.Distributed)
    {
        var settings = ConsoleSettings.Load(builder.Configuration, builder.Environment, hosting);
        builder.Services.AddSingleton(settings);
        if (settings.TrustedProxies.Count > 0)
        {
            builder.Services.AddForwardedProxies(settings.TrustedProxies);
        }

        builder.Services.AddRazorComponents();
        ServeAssetsOfABuild(builder);
        builder.Services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "backbone-console-antiforgery";
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = settings.SecureCookies ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
        });
        builder.Services.AddConsoleSecurityHeaders();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddConsoleAuthentication(settings);
        builder.Services.AddTransient<OperatorTokenHandler>();
        builder.Services.AddHttpClient<BackboneApi>(client =>
            {
                client.BaseAddress = new Uri(settings.FrontDoor.ToString().TrimEnd('/') + "/");
                // A page waits for its API calls: better a message after a minute than a browser spinning for 100 s.
                // Not shorter: a replay's POST through the front door took over 15 s on a loaded machine, and the
                // page said "unreachable" for a job that had in fact started.
                client.Timeout = TimeSpan.FromSeconds(60);
            })
            .AddHttpMessageHandler<OperatorTokenHandler>()
            // The operator's token goes to the front door only, never to wherever a redirect points.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        builder.Services.AddScoped<OperatorPermissions>();
        return builder;
    }

    /// <summary>
    /// The stylesheet and script from the build's asset manifest outside Development too (Development does this by
    /// itself): run from a build (`dotnet run --project src/Embedded`, Production) they were answered 200 with no body
    /// and no Content-Type, so the browser refused both. A published app has no such manifest and serves its wwwroot.
    /// </summary>
    private static void ServeAssetsOfABuild(WebApplicationBuilder builder)
    {
        if (builder.Environment.IsDevelopment())
        {
            return;
        }

        try
        {
            StaticWebAssetsLoader.UseStaticWebAssets(builder.Environment, builder.Configuration);
        }
        catch (DirectoryNotFoundException)
        {
            // A build copied away from the folders its manifest names (the source tree, the NuGet cache of the machine
            // that built it): the host would exit at start. A console without its stylesheet is the lesser harm.
        }
    }

    public static WebApplication MapConsole(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<ConsoleSettings>();
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapRazorComponents<App>()
            .RequireAuthorization(ConsoleAuthentication.OperatorPolicy);
        app.MapSignOut();
        app.MapSignedInPage();
        app.MapJobProgress();
        if (settings.DevSignIn != DevSignIn.None)
        {
            // Mapped only in Development and embedded mode: elsewhere the route does not exist (404).
            app.MapDevSignIn(settings.DevSignIn);
        }

        return app;
    }
}
