using EventBackbone.Ingestion.Api;
using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddIngestion();
        builder.AddBackboneBus(IngestionModule.ConfigureBus);
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapIngestionEndpoints();
    });

/// <summary>Public so that <c>WebApplicationFactory&lt;Program&gt;</c> in the fast tests can find this host.</summary>
public partial class Program;
