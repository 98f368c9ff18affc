using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EventBackbone.Console.Tests;

/// <summary>The console host in-process, in <paramref name="environment"/>, calling <paramref name="frontDoor"/>.</summary>
internal sealed class ConsoleFactory(Uri? frontDoor, string environment = "Development", IReadOnlyDictionary<string, string?>? settings = null)
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
    }
}
