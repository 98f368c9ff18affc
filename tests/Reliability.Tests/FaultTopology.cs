using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Reliability.Tests;

/// <summary>
/// One instance of each host on the expendable RabbitMQ node and the expendable PostgreSQL cluster, so scenarios can
/// stop the broker or the database under load without touching what other suites use.
/// </summary>
public sealed class FaultTopology() : ReliabilityTopology(instancesPerHost: 1)
{
    private ExclusiveInfrastructure? _brokerTurn;
    private ExclusiveInfrastructure? _databaseTurn;

    public ExpendableRabbitMq Broker { get; } = ExpendableRabbitMq.FromEnvironment();

    public ExpendablePostgres Postgres { get; } = ExpendablePostgres.FromEnvironment();

    protected override string DatabasePrefix => "faults";

    public override PoisonInjector CreatePoisonInjector() => new(Broker.Settings, VirtualHost.Name, InjectedPoison);

    public override async Task<List<(string Queue, int Messages)>> QueueDepthsAsync()
    {
        using var management = RabbitMqVirtualHost.ManagementClient(Broker.Settings);
        var queues = await management.GetFromJsonAsync<JsonElement>(new Uri($"api/queues/{Uri.EscapeDataString(VirtualHost.Name)}", UriKind.Relative));
        return Depths(queues.EnumerateArray());
    }

    protected override async Task<InfrastructureSettings> PrepareInfrastructureAsync()
    {
        // Other suites stop and start the same expendable servers: take turns, never pull them from under each other.
        _brokerTurn = await ExpendableRabbitMq.AcquireAsync();
        _databaseTurn = await ExpendablePostgres.AcquireAsync();
        await Broker.EnsureRunningAsync();
        await Postgres.EnsureRunningAsync();
        return Broker.Settings with { PostgresAdminConnectionString = Postgres.Settings.PostgresAdminConnectionString };
    }

    protected override void AddInfrastructureSettings(Dictionary<string, string> settings)
    {
        var broker = Broker.Settings;
        settings["Backbone:RabbitMq:Host"] = broker.RabbitHost;
        settings["Backbone:RabbitMq:Port"] = broker.RabbitPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Backbone:RabbitMq:Username"] = broker.RabbitUsername;
        settings["Backbone:RabbitMq:Password"] = broker.RabbitPassword;
        settings["Backbone:RabbitMq:ManagementUrl"] = broker.RabbitManagementUrl.ToString();
    }

    protected override async Task RestoreInfrastructureAsync()
    {
        await Broker.EnsureRunningAsync();
        await Postgres.EnsureRunningAsync();
    }

    protected override Task ReleaseInfrastructureAsync()
    {
        _databaseTurn?.Dispose();
        _brokerTurn?.Dispose();
        return Task.CompletedTask;
    }
}
