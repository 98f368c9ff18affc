using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults;
using EventBackbone.Workers;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddWorkers();
        builder.AddBackboneBus(WorkersModule.ConfigureBus);
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapWorkersEndpoints();
    });
