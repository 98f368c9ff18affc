using System.Text.RegularExpressions;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>A host started with a bad setting exits non-zero with one line naming the setting, and no stack trace.</summary>
public sealed partial class InvalidSettingSpecs
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

        await AssertExitsWithOneLineAsync(host, expected);
    }

    [Fact]
    public async Task A_distributed_host_refuses_the_signing_key_the_kubernetes_manifests_ship_with()
    {
        // Read from the manifest, so this follows whatever placeholder it ships: everyone who read it could mint tokens.
        var manifest = File.ReadAllText(Path.Combine(RepositoryLayout.Root, "compose", "k8s", "21-secrets.yaml"));
        var placeholder = KubernetesSigningKey().Match(manifest);
        Assert.True(placeholder.Success, "compose/k8s/21-secrets.yaml no longer sets Backbone__Auth__SigningKeys__0 where this test reads it.");

        await using var host = HostProcess.Start("Ingestion.Api", Unreachable("Backbone:Auth:SigningKeys:0", placeholder.Groups["key"].Value));

        await AssertExitsWithOneLineAsync(host, "Invalid setting Backbone:Auth:SigningKeys:0:");
        Assert.DoesNotContain(placeholder.Groups["key"].Value, host.Output + host.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_distributed_host_refuses_an_http_authority()
    {
        await using var host = HostProcess.Start("Ingestion.Api", Unreachable("Backbone:Auth:Authority", "http://127.0.0.1:9/realms/backbone"));

        await AssertExitsWithOneLineAsync(host, "Invalid setting Backbone:Auth:Authority:");
    }

    /// <summary>
    /// <paramref name="key"/> = <paramref name="value"/>, with the broker and the database where nothing listens: a host
    /// that accepted the value would wait there, unready, instead of reaching the shared servers.
    /// </summary>
    private static Dictionary<string, string> Unreachable(string key, string value) => new()
    {
        [key] = value,
        ["Backbone:RabbitMq:Host"] = "127.0.0.1",
        ["Backbone:RabbitMq:Port"] = "9",
        ["ConnectionStrings:Ingestion"] = "Host=127.0.0.1;Port=9;Username=nobody;Password=nothing;Database=nothing",
    };

    private static async Task AssertExitsWithOneLineAsync(HostProcess host, string expected)
    {
        var exitCode = await host.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 78, $"Expected exit code 78 (EX_CONFIG), got {exitCode}.\n{host.Logs}");
        var lines = host.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"Expected one line on stderr.\n{host.Logs}");
        Assert.StartsWith(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", host.Output + host.Errors, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^\s*Backbone__Auth__SigningKeys__0:\s*(?<key>\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex KubernetesSigningKey();
}
