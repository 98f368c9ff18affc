using Npgsql;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// Where the real servers are: the same environment variables <c>bash scripts/infra.sh env</c> prints, with the
/// script's values as defaults.
/// </summary>
public sealed record InfrastructureSettings(
    string RabbitHost,
    int RabbitPort,
    string RabbitUsername,
    string RabbitPassword,
    Uri RabbitManagementUrl,
    string PostgresAdminConnectionString)
{
    public const string StartHint = "Start it with `bash scripts/infra.sh up`.";

    public static InfrastructureSettings FromEnvironment() => new(
        Env("Backbone__RabbitMq__Host", "127.0.0.1"),
        int.Parse(Env("Backbone__RabbitMq__Port", "5672"), System.Globalization.CultureInfo.InvariantCulture),
        Env("Backbone__RabbitMq__Username", "guest"),
        Env("Backbone__RabbitMq__Password", "guest"),
        new Uri(Env("Backbone__RabbitMq__ManagementUrl", "http://127.0.0.1:15672")),
        Env("Backbone__Postgres__AdminConnectionString", "Host=127.0.0.1;Port=5432;Username=backbone;Password=backbone;Database=postgres"));

    public string PostgresConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(PostgresAdminConnectionString) { Database = database }.ConnectionString;

    private static string Env(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;
}
