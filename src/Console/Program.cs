using EventBackbone.Console;
using EventBackbone.ServiceDefaults;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddConsole();
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapConsole();
    });
