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

/// <summary>The whole topology with every queue a quorum queue, as on a broker cluster.</summary>
public sealed class QuorumSignupWorkflowFixture : SignupWorkflowFixture
{
    protected override IEnumerable<KeyValuePair<string, string>> TopologySettings() =>
        [new("Backbone:RabbitMq:QuorumQueues", "true")];
}

/// <summary>
/// Commands the signup saga sends reach the Workers' quorum queues: a send addressed so that MassTransit declares the
/// destination queue as a classic one is refused by the broker for a quorum queue and would never complete.
/// </summary>
public sealed class QuorumQueueWorkflowSpecs(QuorumSignupWorkflowFixture workflow) : IClassFixture<QuorumSignupWorkflowFixture>
{
    [Fact]
    public async Task With_quorum_queues_a_signup_gets_its_account_and_its_welcome()
    {
        await workflow.SetProviderAsync("ok");
        var email = $"quorum-{Guid.NewGuid():N}@example.com";

        var signupId = await workflow.RequestSignupAsync(email);

        await workflow.WaitForWelcomeAsync(email, TimeSpan.FromSeconds(90));
        var signup = await workflow.SignupAsync(signupId);
        Assert.NotEqual(JsonValueKind.Null, signup?.GetProperty("userId").ValueKind);
        foreach (var queue in new[] { "create-user-account", "send-notification", "signup-state" })
        {
            var declared = JsonDocument.Parse(await workflow.VirtualHost.GetQueueJsonAsync(queue)).RootElement;
            Assert.True(declared.GetProperty("type").GetString() == "quorum", declared.ToString());
        }
    }
}
