using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>The real API host, in-process, on the in-memory transport and in-memory storage, with the test harness.</summary>
public sealed class IngestionApiFactory : WebApplicationFactory<Program>
{
    public const int MaxBodyBytes = 1024;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Backbone:Transport", "InMemory");
        // Empty connection string + in-memory transport = in-memory storage: the fast tier needs no server.
        builder.UseSetting("ConnectionStrings:Ingestion", "");
        builder.UseSetting("Backbone:Ingestion:MaxBodyBytes", MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.ConfigureServices(services => services.AddMassTransitTestHarness());
    }
}
