using System.Diagnostics;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>The Workers host as a process, on a vhost and database of its own, for a publisher that is not .NET.</summary>
public sealed class NodePublisherFixture() : BackboneInfrastructure("Workers")
{
    public HostProcess Workers { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Workers = HostProcess.Start("Workers", new Dictionary<string, string>(HostSettings())
        {
            ["Backbone:Auth:SigningKeys:0"] = TestSigningKey.Generate(),
        });
        // Ready = its queues and MassTransit's exchanges (the ones the document names) are declared and consumed.
        await Workers.WaitUntilReadyAsync(HostProcess.StartTimeout);
    }

    public override async Task DisposeAsync()
    {
        if (Workers is not null)
        {
            await Workers.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}

/// <summary>
/// Another team's service in another language: examples/node-publisher knows only docs/asyncapi.json and amqplib, and
/// the backbone consumes what it publishes as if MassTransit had sent it.
/// </summary>
public sealed class NodePublisherSpecs(NodePublisherFixture fixture) : IClassFixture<NodePublisherFixture>
{
    private static readonly string Example = Path.Combine(RepositoryLayout.Root, "examples", "node-publisher");

    [Fact]
    public async Task A_webhook_published_by_the_node_example_from_the_asyncapi_document_is_consumed_by_the_workers()
    {
        var source = $"node-{Guid.NewGuid():N}";
        var settings = fixture.Settings;
        var amqpUrl = $"amqp://{Uri.EscapeDataString(settings.RabbitUsername)}:{Uri.EscapeDataString(settings.RabbitPassword)}"
            + $"@{settings.RabbitHost}:{settings.RabbitPort}/{Uri.EscapeDataString(fixture.VirtualHost.Name)}";

        // npm ci: exactly the package-lock's amqplib and ajv, as a reader of docs/contracts.md installs them.
        await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], amqpUrl, TimeSpan.FromMinutes(5));
        var published = await RunAsync("node", ["publish.js", source], amqpUrl, TimeSpan.FromMinutes(2));

        await Eventually.HoldsAsync(
            async () => await fixture.Database("Workers").ScalarAsync<long>(
                "SELECT count(*) FROM inbound_webhooks WHERE source = @source", ("source", source)) == 1,
            TimeSpan.FromSeconds(90),
            () => $"The Workers never stored the webhook the Node example published ({published.Trim()}).\n{fixture.Workers.Logs}");
    }

    private static async Task<string> RunAsync(string program, string[] arguments, string amqpUrl, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = Example,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["AMQP_URL"] = amqpUrl },
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = InfrastructureProgram.Start(start, "This spec needs Node.js and npm, which `bash scripts/infra.sh up` installs.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}.\n{await error}");
        }

        Assert.True(process.ExitCode == 0,
            $"{program} {string.Join(' ', arguments)} exited {process.ExitCode}.\n{await output}\n{await error}");
        return await output;
    }
}
