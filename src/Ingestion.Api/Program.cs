using EventBackbone.Ingestion.Api;
using EventBackbone.Ingestion.Api.FrontDoor;
using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddIngestion();
        builder.AddBackboneBus(IngestionModule.ConfigureBus);
        builder.AddFrontDoor();
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapIngestionEndpoints();
        app.MapFrontDoor();
    });
