using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EventBackbone.ServiceDefaults.Settings;
using MassTransit;
using RabbitMQ.Client;

namespace EventBackbone.Messaging.Transport;

/// <summary>
/// TLS to the broker (<c>Backbone:RabbitMq:UseTls</c>), for every connection a host opens to it: the bus and the
/// dead-letter service's own connections. <c>Tls:ServerName</c> (default the host name) is the name the broker's
/// certificate must carry; <c>Tls:CaCertificatePath</c>, a PEM file of one or more CA certificates, makes those the only
/// trusted roots (a private CA) instead of the system's; <c>Tls:ClientCertificatePath</c> (PKCS#12, with
/// <c>Tls:ClientCertificatePassword</c>) is presented for mutual TLS. Files are read at start, so a missing or unreadable
/// one stops the host there instead of at its first connection attempt, retried forever.
/// </summary>
public sealed class RabbitMqTlsSettings
{
    private const string Prefix = "Backbone:RabbitMq:Tls";

    private RabbitMqTlsSettings(string serverName, X509Certificate2Collection? trustedRoots, X509Certificate2? clientCertificate)
    {
        ServerName = serverName;
        TrustedRoots = trustedRoots;
        ClientCertificate = clientCertificate;
    }

    public string ServerName { get; }

    /// <summary>The private CA's certificates, or null for the system trust store.</summary>
    public X509Certificate2Collection? TrustedRoots { get; }

    public X509Certificate2? ClientCertificate { get; }

    /// <summary>Reads the section; null when TLS is off, and then any of its settings is refused (see below).</summary>
    /// <param name="host">The default server name: the broker's host, or null when the nodes of a cluster are on
    /// different hosts and no one name can be assumed for their certificates.</param>
    internal static RabbitMqTlsSettings? Load(SettingsReader settings, bool useTls, string? host)
    {
        var serverName = settings.Optional($"{Prefix}:ServerName");
        var caPath = settings.Optional($"{Prefix}:CaCertificatePath");
        var clientPath = settings.Optional($"{Prefix}:ClientCertificatePath");
        var clientPassword = settings.Optional($"{Prefix}:ClientCertificatePassword");
        if (!useTls)
        {
            // An operator who gave a CA or a client certificate meant the connection to be encrypted: connecting in
            // plain text anyway would send the broker password unencrypted without a word.
            if (new[] { ("ServerName", serverName), ("CaCertificatePath", caPath), ("ClientCertificatePath", clientPath), ("ClientCertificatePassword", clientPassword) }
                .FirstOrDefault(x => x.Item2 is not null) is ({ } name, not null))
            {
                throw new InvalidSettingException($"{Prefix}:{name}", "is set, but Backbone:RabbitMq:UseTls is false; set UseTls=true or remove it.");
            }

            return null;
        }

        if (clientPassword is not null && clientPath is null)
        {
            throw new InvalidSettingException($"{Prefix}:ClientCertificatePassword", $"is set without {Prefix}:ClientCertificatePath.");
        }

        return new RabbitMqTlsSettings(
            serverName ?? host ?? throw new InvalidSettingException(
                $"{Prefix}:ServerName",
                "is required: Backbone:RabbitMq:Nodes are on different hosts, and every node's certificate is checked against one name "
                + "(MassTransit applies a single server name to all nodes); set the name the nodes' certificates share."),
            caPath is null ? null : LoadRoots($"{Prefix}:CaCertificatePath", caPath),
            clientPath is null ? null : LoadClientCertificate($"{Prefix}:ClientCertificatePath", clientPath, clientPassword));
    }

    /// <summary>
    /// Accepts the broker's certificate when it is for <see cref="ServerName"/> and chains to a trusted root: the
    /// configured CA alone when one is given (its chain is built again against it), else the system's (the default
    /// validation's verdict).
    /// </summary>
    public bool ValidateServerCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (TrustedRoots is null)
        {
            return errors == SslPolicyErrors.None;
        }

        // Name and presence are checked by TLS itself; only the chain is judged against the private CA instead.
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(TrustedRoots);
        // A private CA rarely publishes revocation lists, and an unreachable one would refuse every connection.
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainElements.Select(x => x.Certificate).ToArray());
        }

        return custom.Build(certificate as X509Certificate2 ?? new X509Certificate2(certificate));
    }

    /// <summary>The TLS options of a connection this service opens itself with RabbitMQ.Client.</summary>
    public SslOption ToSslOption() => new(ServerName, enabled: true)
    {
        // None = the operating system's choice (TLS 1.2 and 1.3), rather than a version pinned here that ages.
        Version = SslProtocols.None,
        CertificateValidationCallback = ValidateServerCertificate,
        Certs = ClientCertificate is null ? null : new X509CertificateCollection { ClientCertificate },
    };

    internal void Configure(IRabbitMqSslConfigurator ssl)
    {
        // MassTransit's default is TLS 1.2 only; see ToSslOption.
        ssl.Protocol = SslProtocols.None;
        ssl.ServerName = ServerName;
        ssl.CertificateValidationCallback = ValidateServerCertificate;
        if (ClientCertificate is not null)
        {
            ssl.Certificate = ClientCertificate;
        }
    }

    private static X509Certificate2Collection LoadRoots(string key, string path)
    {
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(path);
        }
        catch (Exception unreadable) when (unreadable is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new InvalidSettingException(key, $"'{path}' cannot be read as PEM certificates ({unreadable.Message}).");
        }

        return roots.Count > 0 ? roots : throw new InvalidSettingException(key, $"'{path}' holds no PEM certificate.");
    }

    private static X509Certificate2 LoadClientCertificate(string key, string path, string? password)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
        }
        catch (Exception unreadable) when (unreadable is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new InvalidSettingException(key, $"'{path}' cannot be read as a PKCS#12 certificate with that password ({unreadable.Message}).");
        }

        return certificate.HasPrivateKey ? certificate : throw new InvalidSettingException(key, $"'{path}' holds no private key to authenticate with.");
    }
}
