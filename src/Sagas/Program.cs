using EventBackbone.Messaging.Transport;
using EventBackbone.Sagas;
using EventBackbone.ServiceDefaults;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddSagas();
        builder.AddBackboneBus(SagasModule.ConfigureBus);
        // This host's own contract; in embedded mode the ingestion edge's document lists its endpoints instead.
        builder.Services.AddOpenApi();
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapSagasEndpoints();
        app.MapOpenApi("/openapi/{documentName}.json");
    });
