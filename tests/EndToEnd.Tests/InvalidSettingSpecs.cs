using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>A host started with a bad setting exits non-zero with one line naming the setting, and no stack trace.</summary>
public sealed class InvalidSettingSpecs
{
    public static TheoryData<string, string, string, string> BadSettings => new()
    {
        { "Workers", "Backbone:Transport", "Kafka", "Invalid setting Backbone:Transport: 'Kafka' is not one of InMemory, RabbitMq." },
        { "Workers", "Backbone:Transport", "", "Invalid setting Backbone:Transport: is required (one of InMemory, RabbitMq)." },
        { "Ingestion.Api", "Backbone:RabbitMq:Port", "amqp", "Invalid setting Backbone:RabbitMq:Port: 'amqp' is not a whole number from 1 to 65535." },
        { "Ingestion.Api", "ConnectionStrings:Ingestion", "", "Invalid setting ConnectionStrings:Ingestion: is required when Backbone:Transport is RabbitMq." },
        { "Workers", "ConnectionStrings:Workers", "Host=127.0.0.1;Colour=blue", "Invalid setting ConnectionStrings:Workers: is not a PostgreSQL connection string" },
        { "Ingestion.Api", "Backbone:Ingestion:MaxBodyBytes", "-1", "Invalid setting Backbone:Ingestion:MaxBodyBytes: '-1' is not a whole number from 1 to 67108864." },
        { "Sagas", "Backbone:Logging:Format", "Xml", "Invalid setting Backbone:Logging:Format: 'Xml' is not one of Text, Json." },
        { "Workers", "Backbone:RabbitMq:QuorumQueues", "yes", "Invalid setting Backbone:RabbitMq:QuorumQueues: 'yes' is not true or false." },
        { "Sagas", "Backbone:ShutdownTimeout", "forever", "Invalid setting Backbone:ShutdownTimeout:" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task The_host_exits_with_one_line_naming_the_setting(string project, string key, string value, string expected)
    {
        await using var host = HostProcess.Start(project, new Dictionary<string, string> { [key] = value });

        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 78, $"Expected exit code 78 (EX_CONFIG), got {exitCode}.\n{host.Logs}");
        var lines = host.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"Expected one line on stderr.\n{host.Logs}");
        Assert.StartsWith(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", host.Output + host.Errors, StringComparison.Ordinal);
    }
}
