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
