using System.Net;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// What the webhook edge spends on senders it has not verified yet (<c>Backbone:Ingestion</c>): how many bodies it reads
/// at once, in all and per client address, and how many failed verifications it tolerates per second, per client
/// address and in all. Senders that verify are limited only by their source's own budget.
/// </summary>
/// <param name="MaxConcurrentBodyReads">
/// Bodies read at once by this instance (503 above it). With the 1 MiB default body limit, 64 bound what unverified
/// bodies can hold to 64 MiB: a 512 MiB pod's 384 MiB heap died at 600 connections that declared 1 MiB each.
/// </param>
/// <param name="MaxConcurrentBodyReadsPerAddress">Of those, at most this many for one client address, so one address cannot take them all.</param>
/// <param name="UnverifiedPerAddressPerSecond">Refused webhooks (bad signature, unknown source…) one address may send per second, bursts of twice that; then its requests are 429s.</param>
/// <param name="UnverifiedPerSecond">The same for the whole instance: the verification work anyone without a secret can make it do.</param>
/// <param name="BodyReadTimeout">
/// How long one body may take to arrive (408 after it): at Kestrel's minimum data rate of 240 B/s, 64 connections sending
/// 1 MiB each held every body-read slot for ~73 minutes, and every webhook was a 503 meanwhile.
/// </param>
/// <param name="TrustedProxies">
/// Proxies whose <c>X-Forwarded-For</c> names the client. Empty by default: a forwarded address is the client's word, and
/// believing it from anyone would let an attacker pick a fresh address for every request.
/// </param>
public sealed record WebhookEdgeSettings(
    int MaxConcurrentBodyReads,
    int MaxConcurrentBodyReadsPerAddress,
    int UnverifiedPerAddressPerSecond,
    int UnverifiedPerSecond,
    TimeSpan BodyReadTimeout,
    IReadOnlyList<IPNetwork> TrustedProxies)
{
    public static WebhookEdgeSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        return new WebhookEdgeSettings(
            settings.Int("Backbone:Ingestion:MaxConcurrentBodyReads", 64, 1, 100_000),
            settings.Int("Backbone:Ingestion:MaxConcurrentBodyReadsPerAddress", 16, 1, 100_000),
            settings.Int("Backbone:Ingestion:UnverifiedPerAddressPerSecond", 10, 1, 1_000_000),
            settings.Int("Backbone:Ingestion:UnverifiedPerSecond", 200, 1, 1_000_000),
            settings.Duration("Backbone:Ingestion:BodyReadTimeout", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10)),
            settings.Networks("Backbone:Ingestion:TrustedProxies"));
    }
}
