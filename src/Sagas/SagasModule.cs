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
        var signups = bus.AddSagaStateMachine<SignupStateMachine, SignupState, SignupStateDefinition>();
        // The registration AddServiceDatabase made tells which store this host has: PostgreSQL, or in embedded mode
        // with no connection string, memory (where xmin, and so the PostgreSQL repository, does not exist).
        var database = bus.InstancesOf<ServiceDatabaseRegistration>().Single(x => x.ContextType == typeof(SagasDbContext));
        if (database.IsPostgres)
        {
            signups.PostgresRepository<SignupState, SagasDbContext>();
        }
        else
        {
            signups.InMemoryRepository();
        }
    }

    public static WebApplication MapSagasEndpoints(this WebApplication app)
    {
        app.MapSignupEndpoints();
        app.MapOutboxStatus<SagasDbContext>("sagas");
        return app;
    }
}
