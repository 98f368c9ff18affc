using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Console.Tests;

/// <summary>The console host in-process, in <paramref name="environment"/>, calling <paramref name="frontDoor"/>.</summary>
/// <param name="caller">The address every request comes from (the test server gives none).</param>
internal sealed class ConsoleFactory(
    Uri? frontDoor, string environment = "Development", IReadOnlyDictionary<string, string?>? settings = null, IPAddress? caller = null)
    : WebApplicationFactory<Program>
{
    /// <summary>A client that keeps cookies and does not follow redirects, as the specs look at each answer.</summary>
    public HttpClient CreateBrowser() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        builder.UseSetting("Backbone:Console:FrontDoor", frontDoor?.ToString() ?? "");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        if (caller is not null)
        {
            // First of all startup filters, so the address is there before anything reads it.
            builder.ConfigureServices(services => services.Insert(0, ServiceDescriptor.Singleton<IStartupFilter>(new CallerAddress(caller))));
        }
    }

    private sealed class CallerAddress(IPAddress address) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                context.Connection.RemoteIpAddress = address;
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
