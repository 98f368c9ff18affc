using EventBackbone.Embedded;
using EventBackbone.Embedded.DeadLetters;
using EventBackbone.Ingestion.Api;
using EventBackbone.Messaging.Transport;
using EventBackbone.Sagas;
using EventBackbone.ServiceDefaults;
using EventBackbone.Workers;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddIngestion();
        builder.AddWorkers();
        builder.AddSagas();
        builder.AddOperatorLoop();
        builder.AddBackboneBus(IngestionModule.ConfigureBus, WorkersComposition.ConfigureBus, SagasModule.ConfigureBus, InProcessCapture.ConfigureBus);
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapIngestionEndpoints();
        app.MapSagasEndpoints();
        app.MapWorkersEndpoints();
        app.MapOperatorLoop();
    });
