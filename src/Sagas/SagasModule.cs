using MassTransit;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Sagas;

/// <summary>
/// The workflow host as a module: its own host uses it, and so does the embedded all-in-one host.
/// The signup state machine and its PostgreSQL saga repository register here (issues #3 and #5); until then the
/// host runs the bus and reports health, so the topology and its deployment are already complete.
/// </summary>
public static class SagasModule
{
    public const string DatabaseName = "Sagas";

    public static IHostApplicationBuilder AddSagas(this IHostApplicationBuilder builder) => builder;

    public static void ConfigureBus(IBusRegistrationConfigurator bus)
    {
    }
}
