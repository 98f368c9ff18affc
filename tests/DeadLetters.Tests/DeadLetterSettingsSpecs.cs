using EventBackbone.DeadLetters.Capture;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>
/// The management API is called with the broker's user and password (HTTP Basic): with TLS to the broker, an explicit
/// http management URL would still send that password in plain text, so it stops the host instead.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class DeadLetterSettingsSpecs
{
    [Fact]
    public void With_UseTls_an_http_management_url_is_refused()
    {
        var refused = Assert.Throws<InvalidSettingException>(() =>
            Load(("Backbone:RabbitMq:UseTls", "true"), ("Backbone:RabbitMq:ManagementUrl", "http://rabbitmq:15672")));

        Assert.Equal("Backbone:RabbitMq:ManagementUrl", refused.Setting);
        Assert.Contains("https", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", "https://rabbitmq:15671/", "https://rabbitmq:15671/")]
    [InlineData("true", null, "https://127.0.0.1:15671/")]
    [InlineData("false", "http://rabbitmq:15672/", "http://rabbitmq:15672/")]
    [InlineData("false", null, "http://127.0.0.1:15672/")]
    public void Otherwise_the_management_url_is_the_one_set_or_the_default_for_the_transport(string useTls, string? url, string expected)
    {
        var settings = url is null
            ? Load(("Backbone:RabbitMq:UseTls", useTls))
            : Load(("Backbone:RabbitMq:UseTls", useTls), ("Backbone:RabbitMq:ManagementUrl", url));

        Assert.Equal(new Uri(expected), settings.ManagementUrl);
    }

    private static DeadLetterSettings Load(params (string Key, string Value)[] settings) =>
        DeadLetterSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Prepend((Key: "Backbone:Transport", Value: "RabbitMq")).Select(x => KeyValuePair.Create(x.Key, (string?)x.Value)))
            .Build());
}
