using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Console.Security;

/// <summary>
/// Behind a proxy that terminates TLS the console sees plain HTTP: the identity provider was told to return to
/// <c>http://…/signin-oidc</c>, and secure cookies were set on what looked like an insecure request. The forwarded
/// scheme and address are believed from the listed proxies only — from anyone else they are the caller's word.
/// </summary>
internal static class ForwardedProxies
{
    public static IServiceCollection AddForwardedProxies(this IServiceCollection services, IReadOnlyList<System.Net.IPNetwork> trusted)
    {
        services.Configure<ForwardedHeadersOptions>(options =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedFor;
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            foreach (var network in trusted)
            {
                options.KnownIPNetworks.Add(network);
            }
        });
        // A startup filter puts it first in the pipeline, before authentication reads the scheme, whichever host
        // (the console's own or the embedded one) mounts the console and in whatever order it adds its middleware.
        services.AddTransient<IStartupFilter, First>();
        return services;
    }

    private sealed class First : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseForwardedHeaders();
            next(app);
        };
    }
}
