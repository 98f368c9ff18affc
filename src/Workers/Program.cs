using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults;
using EventBackbone.Workers;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddWorkers();
        builder.AddBackboneBus(WorkersComposition.ConfigureBus);
        // This host's own contract; in embedded mode the ingestion edge's document lists its endpoints instead.
        builder.Services.AddOpenApi();
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapWorkersEndpoints();
        app.MapOpenApi("/openapi/{documentName}.json");
    });
