using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>Who sent a request, as far as the edge can tell: what its per-client limits are keyed by.</summary>
internal static class ClientAddress
{
    /// <summary>
    /// The client's key: its IPv4 address, or its IPv6 /64 (one subscriber's usual allocation: keyed by full address,
    /// an attacker would rotate through 2^64 of them). Without an address (in-process tests, Unix sockets) all share one.
    /// </summary>
    public static string Key(HttpContext context, IReadOnlyList<IPNetwork> trustedProxies) =>
        Of(context, trustedProxies) switch
        {
            null => "(none)",
            { AddressFamily: AddressFamily.InterNetworkV6 } v6 => new IPNetwork(Prefix64(v6), 64).ToString(),
            var v4 => v4.ToString(),
        };

    /// <summary>
    /// The immediate peer, unless it is a trusted proxy: then the right-most <c>X-Forwarded-For</c> hop that is not one
    /// of ours. Hops further left were written by whoever sent the request and prove nothing.
    /// </summary>
    public static IPAddress? Of(HttpContext context, IReadOnlyList<IPNetwork> trustedProxies)
    {
        var client = context.Connection.RemoteIpAddress is { } peer ? Normalize(peer) : null;
        if (client is null || !IsTrusted(client, trustedProxies))
        {
            return client;
        }

        var hops = string.Join(',', context.Request.Headers["X-Forwarded-For"].ToArray())
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var i = hops.Length - 1; i >= 0 && IsTrusted(client, trustedProxies); i--)
        {
            // A hop that is no address ends the chain: the proxy that forwarded it is the last we can vouch for.
            if (!IPEndPoint.TryParse(hops[i], out var hop))
            {
                break;
            }

            client = Normalize(hop.Address);
        }

        return client;
    }

    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static bool IsTrusted(IPAddress address, IReadOnlyList<IPNetwork> trustedProxies)
    {
        foreach (var network in trustedProxies)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private static IPAddress Prefix64(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        bytes.AsSpan(8).Clear();
        return new IPAddress(bytes);
    }
}
