using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Messaging.Tests.Transport;

/// <summary>
/// <c>Backbone:RabbitMq:Nodes</c>: a node list that cannot work stops the host at start, naming the entry, instead of a
/// bus that retries an address it can never reach, or that connects somewhere else than the operator meant.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class RabbitMqNodesSettingsSpecs
{
    [Fact]
    public void Without_Nodes_the_host_connects_to_Host_and_Port_alone()
    {
        var rabbit = Load(("Backbone:RabbitMq:Host", "broker.internal"), ("Backbone:RabbitMq:Port", "5700")).RabbitMq;

        Assert.False(rabbit.IsCluster);
        Assert.Equal([new RabbitMqNode("broker.internal", 5700)], rabbit.Nodes);
    }

    [Fact]
    public void Nodes_are_read_in_order_with_their_ports_and_Port_is_the_port_of_an_entry_without_one()
    {
        var rabbit = Load(
            ("Backbone:RabbitMq:Nodes:0", "10.0.0.1:5681"),
            ("Backbone:RabbitMq:Nodes:1", "rabbit-b.internal"),
            ("Backbone:RabbitMq:Nodes:2", " 10.0.0.3:5683 "),
            ("Backbone:RabbitMq:Port", "5690")).RabbitMq;

        Assert.True(rabbit.IsCluster);
        Assert.Equal([new RabbitMqNode("10.0.0.1", 5681), new RabbitMqNode("rabbit-b.internal", 5690), new RabbitMqNode("10.0.0.3", 5683)], rabbit.Nodes);
        // The first node names the bus (MassTransit's host address) and is the default of the names derived from Host.
        Assert.Equal("10.0.0.1", rabbit.Host);
    }

    [Theory]
    [InlineData("10.0.0.1:")]
    [InlineData(":5672")]
    [InlineData("10.0.0.1:amqp")]
    [InlineData("10.0.0.1:0")]
    [InlineData("10.0.0.1:70000")]
    [InlineData("[::1]:5672")]
    [InlineData("amqp://10.0.0.1:5672")]
    [InlineData("10.0.0.1 5672")]
    public void A_node_that_is_not_host_or_host_colon_port_is_refused_by_its_key(string entry)
    {
        var refused = Refused(("Backbone:RabbitMq:Nodes:0", "10.0.0.9:5672"), ("Backbone:RabbitMq:Nodes:1", entry));

        Assert.Equal("Backbone:RabbitMq:Nodes:1", refused.Setting);
        Assert.Contains(entry.Trim(), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_given_as_a_section_instead_of_a_value_is_refused()
    {
        var refused = Refused(("Backbone:RabbitMq:Nodes:0:Host", "10.0.0.1"), ("Backbone:RabbitMq:Nodes:0:Port", "5681"));

        Assert.Equal("Backbone:RabbitMq:Nodes:0", refused.Setting);
    }

    [Fact]
    public void The_same_node_listed_twice_is_refused()
    {
        var refused = Refused(("Backbone:RabbitMq:Nodes:0", "10.0.0.1:5681"), ("Backbone:RabbitMq:Nodes:1", "10.0.0.1:5681"));

        Assert.Equal("Backbone:RabbitMq:Nodes:1", refused.Setting);
        Assert.Contains("Nodes:0", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Host_together_with_Nodes_is_refused_as_ambiguous()
    {
        var refused = Refused(("Backbone:RabbitMq:Host", "10.0.0.1"), ("Backbone:RabbitMq:Nodes:0", "10.0.0.1:5681"));

        Assert.Equal("Backbone:RabbitMq:Host", refused.Setting);
        Assert.Contains("Backbone:RabbitMq:Nodes", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_TLS_nodes_on_different_hosts_need_the_one_server_name_their_certificates_share()
    {
        var refused = Refused(
            ("Backbone:RabbitMq:UseTls", "true"),
            ("Backbone:RabbitMq:Nodes:0", "rabbit-a.internal:5671"),
            ("Backbone:RabbitMq:Nodes:1", "rabbit-b.internal:5671"));

        Assert.Equal("Backbone:RabbitMq:Tls:ServerName", refused.Setting);

        var named = Load(
            ("Backbone:RabbitMq:UseTls", "true"),
            ("Backbone:RabbitMq:Tls:ServerName", "rabbit.internal"),
            ("Backbone:RabbitMq:Nodes:0", "rabbit-a.internal:5671"),
            ("Backbone:RabbitMq:Nodes:1", "rabbit-b.internal")).RabbitMq;
        Assert.Equal("rabbit.internal", named.Tls!.ServerName);
        Assert.Equal(new RabbitMqNode("rabbit-b.internal", 5671), named.Nodes[1]);
    }

    [Fact]
    public void With_TLS_nodes_on_one_host_are_checked_against_that_host_name()
    {
        var rabbit = Load(
            ("Backbone:RabbitMq:UseTls", "true"),
            ("Backbone:RabbitMq:Nodes:0", "rabbit.internal:5671"),
            ("Backbone:RabbitMq:Nodes:1", "rabbit.internal:5672")).RabbitMq;

        Assert.Equal("rabbit.internal", rabbit.Tls!.ServerName);
    }

    /// <summary>
    /// The node list `infra.sh cluster env` prints (and a deployment sets) must be enough on its own: a shipped
    /// appsettings.json that sets Host made every host refuse Nodes at start ("'127.0.0.1' is set together with
    /// Backbone:RabbitMq:Nodes"), found by the fault suite's cluster topology.
    /// </summary>
    [Theory]
    [InlineData("Ingestion.Api")]
    [InlineData("Workers")]
    [InlineData("Sagas")]
    [InlineData("DeadLetters")]
    public void A_shipped_host_takes_Nodes_alone_on_top_of_its_appsettings(string host)
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(EventBackbone.TestInfrastructure.RepositoryLayout.Root, "src", host, "appsettings.json"))
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Backbone:RabbitMq:Nodes:0"] = "127.0.0.1:5681", ["Backbone:RabbitMq:Nodes:1"] = "127.0.0.1:5682" })
            .Build();

        var rabbit = BackboneSettings.Load(configuration).RabbitMq;

        Assert.Equal([new RabbitMqNode("127.0.0.1", 5681), new RabbitMqNode("127.0.0.1", 5682)], rabbit.Nodes);
    }

    private static InvalidSettingException Refused(params (string Key, string Value)[] settings) =>
        Assert.Throws<InvalidSettingException>(() => Load(settings));

    private static BackboneSettings Load(params (string Key, string Value)[] settings) =>
        BackboneSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(x => new KeyValuePair<string, string?>(x.Key, x.Value))
                .Append(new KeyValuePair<string, string?>(BackboneSettings.TransportKey, "RabbitMq")))
            .Build());
}
