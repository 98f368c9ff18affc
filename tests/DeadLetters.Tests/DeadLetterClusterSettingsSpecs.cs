using System.Globalization;
using System.Text.Json;
using EventBackbone.DeadLetters.Capture;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.TestInfrastructure;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>
/// The dead-letter service opens its own broker connections (capture, replay): with <c>Backbone:RabbitMq:Nodes</c>
/// they go to any live node of the list, and with <c>QuorumQueues</c> the replay journal is replicated like the queues
/// it accounts for. Against the single node, in a vhost of its own (a quorum queue there has one member).
/// </summary>
[Trait("Tier", "Integration")]
public sealed class DeadLetterClusterSettingsSpecs
{
    [Fact]
    public async Task Its_connections_go_to_a_live_node_of_the_list_whatever_Host_and_Port_would_say()
    {
        var broker = InfrastructureSettings.FromEnvironment();
        await using var vhost = await RabbitMqVirtualHost.CreateAsync(broker);
        // Port 1 refuses at once: the node list's dead entry, and the port an entry without one would get.
        var settings = Load(broker, vhost.Name, ("Backbone:RabbitMq:Port", "1"), ("Backbone:RabbitMq:Nodes:0", "127.0.0.1:1"),
            ("Backbone:RabbitMq:Nodes:1", $"{broker.RabbitHost}:{broker.RabbitPort.ToString(CultureInfo.InvariantCulture)}"));

        await using var connection = await settings.ConnectAsync("test", CancellationToken.None);

        Assert.True(connection.IsOpen);
        Assert.Equal(broker.RabbitPort, connection.Endpoint.Port);
    }

    [Fact]
    public async Task With_QuorumQueues_the_replay_journal_is_a_quorum_queue()
    {
        var broker = InfrastructureSettings.FromEnvironment();
        await using var vhost = await RabbitMqVirtualHost.CreateAsync(broker);
        var settings = Load(broker, vhost.Name, ("Backbone:RabbitMq:QuorumQueues", "true"));
        await using var connection = await settings.ConnectAsync("test", CancellationToken.None);
        await using var channel = await connection.CreateChannelAsync();

        await DeadLetterReplayer.DeclareJournalAsync(channel, settings.RabbitMq, CancellationToken.None);

        var journal = JsonDocument.Parse(await vhost.GetQueueJsonAsync(DeadLetterReplayer.JournalQueue)).RootElement;
        Assert.Equal("quorum", journal.GetProperty("type").GetString());
    }

    private static DeadLetterSettings Load(InfrastructureSettings broker, string vhost, params (string Key, string Value)[] more) =>
        DeadLetterSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(new (string Key, string Value)[]
                {
                    ("Backbone:Transport", "RabbitMq"),
                    ("Backbone:RabbitMq:VirtualHost", vhost),
                    ("Backbone:RabbitMq:Username", broker.RabbitUsername),
                    ("Backbone:RabbitMq:Password", broker.RabbitPassword),
                }
                .Concat(more)
                .Select(x => KeyValuePair.Create(x.Key, (string?)x.Value)))
            .Build());
}
