using EventBackbone.DeadLetters;
using EventBackbone.ServiceDefaults;

return await BackboneHost.RunAsync(
    args,
    builder =>
    {
        builder.AddServiceDefaults();
        builder.AddDeadLetters();
    },
    app =>
    {
        app.MapDefaultEndpoints();
        app.MapDeadLetterEndpoints();
    });
