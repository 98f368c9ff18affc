using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace EventBackbone.Messaging.Persistence;

public static class ServiceDatabase
{
    /// <summary>
    /// Registers the one database a service owns: PostgreSQL from <c>ConnectionStrings:{service}</c>, or, only in
    /// embedded mode and only when no connection string is given, an in-memory store. Its schema is brought up to
    /// date before the bus starts consuming, and it is part of the host's readiness.
    /// </summary>
    public static IHostApplicationBuilder AddServiceDatabase<TContext>(this IHostApplicationBuilder builder, string service)
        where TContext : DbContext
    {
        var backbone = BackboneSettings.Load(builder.Configuration);
        var key = $"ConnectionStrings:{service}";
        var connectionString = new SettingsReader(builder.Configuration).Optional(key);

        if (connectionString is not null)
        {
            ValidatePostgresConnectionString(key, connectionString);
            connectionString = WithStatementReuse(WithBoundedPool(connectionString));
            builder.Services.TryAddSingleton<OutboxSignal>();
            builder.Services.TryAddSingleton<OutboxHandoff>();
            builder.Services.TryAddSingleton<OutboxNotifyInterceptor>();
            // Pooled: every request and every consumed message creates a DbContext, and building one from scratch was a
            // visible share of the durable pipeline's CPU.
            builder.Services.AddDbContextPool<TContext>((services, options) =>
                UsePostgres(options, connectionString).AddInterceptors(services.GetRequiredService<OutboxNotifyInterceptor>()));
        }
        else if (backbone.IsEmbedded)
        {
            // Named per service so embedded mode keeps the one-database-per-service boundary.
            var name = $"{service}-{Guid.NewGuid():N}";
            builder.Services.AddDbContext<TContext>(options => options.UseInMemoryDatabase(name).UseSnakeCaseNamingConvention());
        }
        else
        {
            throw new InvalidSettingException(key, $"is required when {BackboneSettings.TransportKey} is {backbone.Transport}.");
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IExceptionHandler, DatabaseUnavailableHandler>());
        var registration = new ServiceDatabaseRegistration(typeof(TContext), service, connectionString is not null);
        builder.Services.AddSingleton(registration);

        // Registered before the bus so the schema exists before the first message is consumed.
        builder.Services.AddHostedService<DatabaseInitializer<TContext>>();
        builder.Services.AddHealthChecks()
            .AddDbContextCheck<TContext>($"{service.ToLowerInvariant()}-database", tags: [ServiceDefaultsExtensions.ReadyTag]);
        // Last, so a bus registered before this database is composed after its migration, in either order.
        BusRegistration.ComposeWaitingBus(builder.Services, registration);
        return builder;
    }

    /// <summary>
    /// Whether <typeparamref name="TContext"/>'s service database is PostgreSQL, or embedded mode's in-memory store: the
    /// one question a module asks to pick a store of its own (a saga repository, a receipt store), answered from the
    /// registration <see cref="AddServiceDatabase{TContext}"/> made, so it can be asked while the bus is composed.
    /// </summary>
    public static bool IsPostgres<TContext>(this IServiceCollection services)
        where TContext : DbContext =>
        services.InstancesOf<ServiceDatabaseRegistration>().SingleOrDefault(x => x.ContextType == typeof(TContext))?.IsPostgres
        ?? throw new InvalidOperationException(
            $"{typeof(TContext).Name} is not a service database: call AddServiceDatabase<{typeof(TContext).Name}> before asking which store it is.");

    /// <summary>
    /// Connections one pool of a host opens at most when its connection string does not say (Npgsql's own default is
    /// 100). Found by the fault-injection suite: after a PostgreSQL restart under load every consumer endpoint, the
    /// outbox delivery and the edge reconnected at full concurrency at once, and the hosts together took all of the
    /// server's 100 connection slots ("remaining connection slots are reserved"), failing every other client of that
    /// server. With a bound, work waits for a pooled connection instead.
    /// </summary>
    public const int DefaultMaxPoolSize = 20;

    /// <summary>
    /// <paramref name="connectionString"/> with <c>Maximum Pool Size</c> = <see cref="DefaultMaxPoolSize"/> unless it
    /// sets one itself (under any of Npgsql's names for it).
    /// </summary>
    public static string WithBoundedPool(string connectionString) =>
        Sets(connectionString, "MaximumPoolSize", "MaxPoolSize")
            ? connectionString
            : new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = DefaultMaxPoolSize }.ConnectionString;

    /// <summary>
    /// <paramref name="connectionString"/> with pooled connections kept as they are between uses (<c>No Reset On
    /// Close</c>) and the statements a service runs again and again prepared on them (<c>Max Auto Prepare</c>), unless
    /// it sets either itself. Measured on the durable pipeline benchmark: Npgsql's reset sends <c>DISCARD ALL</c> each
    /// time a pooled connection is reused — its own transaction on the server, 2.6 of the 5 commits per message —
    /// and throws away every prepared statement; without it and with auto-preparation the pipeline went from 675 to
    /// 991 messages/s. Safe because nothing in a service database keeps session state on a pooled connection: no SET,
    /// no temporary tables, no session advisory locks, and LISTEN only on the connection the delivery service holds.
    /// </summary>
    public static string WithStatementReuse(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!Sets(connectionString, "NoResetOnClose"))
        {
            builder.NoResetOnClose = true;
        }

        if (!Sets(connectionString, "MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = DefaultMaxAutoPrepare;
        }

        return builder.ConnectionString;
    }

    /// <summary>Statements prepared per connection: the outbox, inbox and saga statements and a service's own few.</summary>
    public const int DefaultMaxAutoPrepare = 50;

    /// <summary>Whether the connection string itself sets the key, under any of Npgsql's spellings of it.</summary>
    private static bool Sets(string connectionString, params string[] compactKeys)
    {
        // The generic builder keeps only the keys actually written; Npgsql's own builder answers every known key.
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        return given.Keys.Cast<string>().Any(key => compactKeys.Any(compact =>
            key.Replace(" ", "", StringComparison.Ordinal).Equals(compact, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>The one PostgreSQL configuration, shared by hosts and the design-time factories that write migrations.</summary>
    public static DbContextOptionsBuilder UsePostgres(DbContextOptionsBuilder options, string connectionString) =>
        // No EnableRetryOnFailure: retries belong to the message pipeline, where each attempt gets a fresh scope and
        // DbContext; EF-level retries underneath it would replay half a unit of work.
        options.UseNpgsql(connectionString).UseSnakeCaseNamingConvention();

    private static void ValidatePostgresConnectionString(string key, string connectionString)
    {
        NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException malformed)
        {
            throw new InvalidSettingException(key, $"is not a PostgreSQL connection string ({malformed.Message}).");
        }

        if (string.IsNullOrWhiteSpace(parsed.Host) || string.IsNullOrWhiteSpace(parsed.Database))
        {
            throw new InvalidSettingException(key, "must name at least Host and Database.");
        }
    }
}
