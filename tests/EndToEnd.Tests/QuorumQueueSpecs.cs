using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>For a broker cluster, <c>Backbone:RabbitMq:QuorumQueues</c> declares every receive endpoint as a quorum queue.</summary>
public sealed class QuorumQueueSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    [Fact]
    public async Task Configured_for_a_cluster_the_workers_declare_their_queues_as_quorum_queues()
    {
        var settings = new Dictionary<string, string>(infrastructure.HostSettings()) { ["Backbone:RabbitMq:QuorumQueues"] = "true" };
        await using var workers = HostProcess.Start("Workers", settings);
        await workers.WaitUntilReadyAsync(HostProcess.StartTimeout);

        var queue = JsonDocument.Parse(await infrastructure.VirtualHost.GetQueueJsonAsync("create-user-account")).RootElement;

        Assert.True(queue.GetProperty("type").GetString() == "quorum", queue.ToString());
        Assert.True(queue.GetProperty("durable").GetBoolean());
    }
}
