using EventBackbone.Messaging.Transport;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Messaging.Tests.Transport;

/// <summary>
/// A TLS setting that cannot work stops the host at start, naming it, instead of a bus that retries a failing handshake
/// forever or, worse, connects in plain text with the password.
/// </summary>
[Trait("Tier", "Fast")]
public sealed class RabbitMqTlsSettingsSpecs
{
    [Fact]
    public void With_UseTls_and_no_port_the_bus_connects_to_5671()
    {
        Assert.Equal(5671, Load(("Backbone:RabbitMq:UseTls", "true")).RabbitMq.Port);
        Assert.Equal(5672, Load().RabbitMq.Port);
        Assert.Equal(5700, Load(("Backbone:RabbitMq:UseTls", "true"), ("Backbone:RabbitMq:Port", "5700")).RabbitMq.Port);
    }

    [Fact]
    public void A_TLS_setting_without_UseTls_is_refused_rather_than_connecting_in_plain_text()
    {
        using var ca = new TemporaryFile("not read");

        Refused("Backbone:RabbitMq:Tls:CaCertificatePath", ("Backbone:RabbitMq:Tls:CaCertificatePath", ca.Path));
    }

    [Fact]
    public void A_CA_file_that_does_not_exist_is_refused() =>
        Refused("Backbone:RabbitMq:Tls:CaCertificatePath",
            ("Backbone:RabbitMq:UseTls", "true"), ("Backbone:RabbitMq:Tls:CaCertificatePath", "/nonexistent/eventbackbone-ca.pem"));

    [Fact]
    public void A_CA_file_without_a_certificate_is_refused()
    {
        using var ca = new TemporaryFile("this is not a PEM certificate\n");

        Refused("Backbone:RabbitMq:Tls:CaCertificatePath", ("Backbone:RabbitMq:UseTls", "true"), ("Backbone:RabbitMq:Tls:CaCertificatePath", ca.Path));
    }

    [Fact]
    public void A_client_certificate_that_cannot_be_read_is_refused() =>
        Refused("Backbone:RabbitMq:Tls:ClientCertificatePath",
            ("Backbone:RabbitMq:UseTls", "true"), ("Backbone:RabbitMq:Tls:ClientCertificatePath", "/nonexistent/eventbackbone-client.pfx"));

    [Fact]
    public void A_client_certificate_password_without_a_certificate_is_refused() =>
        Refused("Backbone:RabbitMq:Tls:ClientCertificatePassword",
            ("Backbone:RabbitMq:UseTls", "true"), ("Backbone:RabbitMq:Tls:ClientCertificatePassword", "secret"));

    private static void Refused(string key, params (string Key, string Value)[] settings)
    {
        var refused = Assert.Throws<InvalidSettingException>(() => Load(settings));
        Assert.Contains(key, refused.Message, StringComparison.Ordinal);
    }

    private static BackboneSettings Load(params (string Key, string Value)[] settings) =>
        BackboneSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(x => new KeyValuePair<string, string?>(x.Key, x.Value))
                .Append(new KeyValuePair<string, string?>("Backbone:Transport", "RabbitMq")))
            .Build());

    private sealed class TemporaryFile : IDisposable
    {
        public TemporaryFile(string text)
        {
            Path = System.IO.Path.GetTempFileName();
            File.WriteAllText(Path, text);
        }

        public string Path { get; }

        public void Dispose() => File.Delete(Path);
    }
}
