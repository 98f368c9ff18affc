using Xunit;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// Real RabbitMQ and PostgreSQL for one test class: its own vhost and one scratch database per service, so the
/// class sees the same one-database-per-service topology as production and nothing of any other test.
/// </summary>
public class BackboneInfrastructure : IAsyncLifetime
{
    private readonly string[] _services;
    private readonly Dictionary<string, ScratchDatabase> _databases = [];

    public BackboneInfrastructure()
        : this("Ingestion", "Workers", "Sagas")
    {
    }

    protected BackboneInfrastructure(params string[] services)
    {
        _services = services;
    }

    public InfrastructureSettings Settings { get; } = InfrastructureSettings.FromEnvironment();

    public RabbitMqVirtualHost VirtualHost { get; private set; } = null!;

    public ScratchDatabase Database(string service) => _databases[service];

    /// <summary>Configuration keys (<c>Backbone:Transport</c> form) that point a host at this class's servers.</summary>
    public IReadOnlyDictionary<string, string> HostSettings()
    {
        var settings = new Dictionary<string, string>
        {
            ["Backbone:Transport"] = "RabbitMq",
            ["Backbone:RabbitMq:Host"] = Settings.RabbitHost,
            ["Backbone:RabbitMq:Port"] = Settings.RabbitPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Backbone:RabbitMq:VirtualHost"] = VirtualHost.Name,
            ["Backbone:RabbitMq:Username"] = Settings.RabbitUsername,
            ["Backbone:RabbitMq:Password"] = Settings.RabbitPassword,
        };
        foreach (var (service, database) in _databases)
        {
            settings[$"ConnectionStrings:{service}"] = database.ConnectionString;
        }

        return settings;
    }

    public virtual async Task InitializeAsync()
    {
        VirtualHost = await RabbitMqVirtualHost.CreateAsync(Settings);
        foreach (var service in _services)
        {
            _databases[service] = await ScratchDatabase.CreateAsync(Settings, service);
        }
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var database in _databases.Values)
        {
            await database.DisposeAsync();
        }

        if (VirtualHost is not null)
        {
            await VirtualHost.DisposeAsync();
        }
    }
}
