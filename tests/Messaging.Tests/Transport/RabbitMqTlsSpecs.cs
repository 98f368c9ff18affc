using System.Security.Authentication;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Tests.Sagas;
using EventBackbone.Messaging.Transport;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Tests.Transport;

/// <summary>
/// One TLS-only broker node for the class: starting one takes half a minute on a loaded machine. And a service database,
/// since a bus on RabbitMQ keeps its inbox and outbox there.
/// </summary>
public sealed class TlsBrokerFixture : IAsyncLifetime
{
    public TlsRabbitMq Node { get; private set; } = null!;

    public ScratchDatabase Database { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Database = await ScratchDatabase.CreateAsync(InfrastructureSettings.FromEnvironment(), "Tls");
        Node = await TlsRabbitMq.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }

        if (Database is not null)
        {
            await Database.DisposeAsync();
        }
    }
}

public record TlsPing(Guid Id);

public sealed class TlsPingConsumer(TaskCompletionSource<Guid> received) : IConsumer<TlsPing>
{
    public Task Consume(ConsumeContext<TlsPing> context)
    {
        received.TrySetResult(context.Message.Id);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Backbone:RabbitMq:UseTls against a broker that has a TLS listener only, with a certificate from a private CA made
/// for this run: the bus must speak TLS (plain AMQP finds no listener) and trust that CA when told to.
/// </summary>
[Trait("Tier", "Integration")]
public sealed class RabbitMqTlsSpecs(TlsBrokerFixture broker) : IClassFixture<TlsBrokerFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_bus_with_UseTls_and_the_private_CA_round_trips_a_message_over_the_TLS_listener()
    {
        var received = new TaskCompletionSource<Guid>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(Settings(
            ("Backbone:RabbitMq:Tls:CaCertificatePath", broker.Node.CaCertificatePath), ("ConnectionStrings:Tls", broker.Database.ConnectionString)));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(received);
        builder.AddServiceDatabase<CounterDbContext>("Tls");
        builder.AddBackboneBus(bus => bus.AddConsumer<TlsPingConsumer>());
        // The consumer's queue is bound before the publish, or the broker drops the message at the exchange.
        builder.Services.Configure<MassTransitHostOptions>(options =>
        {
            options.WaitUntilStarted = true;
            options.StartTimeout = Patience;
        });
        using var host = builder.Build();
        LogContext.ConfigureCurrentLogContext(host.Services.GetRequiredService<ILoggerFactory>());

        using var starting = new CancellationTokenSource(Patience);
        await host.StartAsync(starting.Token);
        try
        {
            var id = Guid.NewGuid();
            await host.Services.GetRequiredService<IBus>().Publish(new TlsPing(id));

            Assert.Equal(id, await received.Task.WaitAsync(Patience));
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_connection_of_a_services_own_trusts_the_private_CA_too()
    {
        // The dead-letter service opens its own connections (RabbitMQ.Client) with these options.
        await using var connection = await Factory(("Backbone:RabbitMq:Tls:CaCertificatePath", broker.Node.CaCertificatePath)).CreateConnectionAsync();

        Assert.True(connection.IsOpen);
    }

    [Fact]
    public async Task Without_the_private_CA_the_brokers_certificate_is_refused()
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => Factory().CreateConnectionAsync());

        Assert.True(Causes(refused).OfType<AuthenticationException>().Any(), $"Not refused by the TLS handshake: {refused}");
    }

    [Fact]
    public async Task A_certificate_from_the_private_CA_for_another_name_is_refused()
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => Factory(
            ("Backbone:RabbitMq:Tls:CaCertificatePath", broker.Node.CaCertificatePath),
            ("Backbone:RabbitMq:Tls:ServerName", "broker.example.com")).CreateConnectionAsync());

        Assert.True(Causes(refused).OfType<AuthenticationException>().Any(), $"Not refused by the TLS handshake: {refused}");
    }

    private static IEnumerable<Exception> Causes(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            yield return current;
        }
    }

    private RabbitMQ.Client.ConnectionFactory Factory(params (string Key, string Value)[] more)
    {
        var rabbit = BackboneSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(Settings(more)).Build()).RabbitMq;
        return new RabbitMQ.Client.ConnectionFactory
        {
            HostName = rabbit.Host,
            Port = rabbit.Port,
            Ssl = rabbit.Tls!.ToSslOption(),
            AutomaticRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromMinutes(1),
        };
    }

    private Dictionary<string, string?> Settings(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Backbone:Transport"] = "RabbitMq",
            ["Backbone:RabbitMq:Host"] = "127.0.0.1",
            ["Backbone:RabbitMq:Port"] = broker.Node.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Backbone:RabbitMq:UseTls"] = "true",
            // The certificate is for localhost and 127.0.0.1; naming it also checks ServerName reaches the handshake.
            ["Backbone:RabbitMq:Tls:ServerName"] = "localhost",
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }
}
