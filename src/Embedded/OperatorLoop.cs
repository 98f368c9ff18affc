using EventBackbone.Console;
using EventBackbone.Embedded.DeadLetters;
using EventBackbone.Embedded.Demo;
using Microsoft.AspNetCore.Builder;

namespace EventBackbone.Embedded;

/// <summary>
/// What an operator needs in embedded mode, with no server installed: dead letters captured in-process and served at
/// the dead-letter service's API, the console (its front door is this process; sign-in may mint a dev token), and the
/// demo message that fails.
/// </summary>
internal static class OperatorLoop
{
    public static WebApplicationBuilder AddOperatorLoop(this WebApplicationBuilder builder)
    {
        builder.AddEmbeddedDeadLetters();
        builder.AddConsole(ConsoleHosting.Embedded);
        return builder;
    }

    public static WebApplication MapOperatorLoop(this WebApplication app)
    {
        app.MapEmbeddedDeadLetters();
        app.MapDemoEndpoints();
        app.MapConsole();
        return app;
    }
}
