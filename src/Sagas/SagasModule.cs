using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Sagas;
using EventBackbone.Messaging.Transport;
using EventBackbone.Sagas.Persistence;
using EventBackbone.Sagas.Signups;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBackbone.Sagas;

/// <summary>The workflow host as a module: its own host uses it, and so does the embedded all-in-one host.</summary>
public static class SagasModule
{
    public const string DatabaseName = "Sagas";

    public static IHostApplicationBuilder AddSagas(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase<SagasDbContext>(DatabaseName);
        builder.Services.AddSingleton(SignupSettings.Load(builder.Configuration));
        return builder;
    }

    public static void ConfigureBus(IBusRegistrationConfigurator bus)
    {
        bus.AddSagaStateMachine<SignupStateMachine, SignupState, SignupStateDefinition>().ServiceDatabaseRepository<SignupState, SagasDbContext>(bus);
    }

    public static WebApplication MapSagasEndpoints(this WebApplication app)
    {
        app.MapSignupEndpoints();
        app.MapOutboxStatus<SagasDbContext>("sagas");
        return app;
    }
}
