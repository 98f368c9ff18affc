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
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapSagasEndpoints();
    });
