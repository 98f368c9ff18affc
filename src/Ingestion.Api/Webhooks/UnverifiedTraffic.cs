namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Budgets for webhooks that fail verification (bad signature or timestamp, unknown source, wrong media type, too
/// large): a token bucket per client address and one for the instance, each refilled at its rate per second up to
/// twice that. A request is refused before its body is read while its address's bucket, or the instance's, is empty;
/// only a failure spends a token. A sender whose webhooks verify never spends any: junk from elsewhere cannot starve
/// it, which it did while every request spent its source's bucket (item: "anyone can starve a source").
/// <para>
/// An address that sent a verified webhook within <see cref="TrustedFor"/> is never refused here: once ~20 junk
/// addresses emptied the instance's budget, every signed webhook from every source was a 429; and an attacker who
/// pointed their own GitHub webhook, with a wrong secret, at us emptied the bucket of GitHub's egress address, so
/// real GitHub deliveries from it were 429s too. Junk from such an address still costs at most a body-read slot
/// (<see cref="BodyReadSlots"/>) and the read deadline. Only a verified webhook adds an address, and the set keeps
/// the <see cref="MaxTrusted"/> most recent, so neither spoofed nor many addresses can grow it.
/// </para>
/// </summary>
internal sealed class UnverifiedTraffic(WebhookEdgeSettings settings, TimeProvider clock)
{
    /// <summary>
    /// Above this many tracked addresses, those whose bucket has refilled are forgotten (at most once a second). A
    /// bucket exists only after a failure the instance budget let through, and refills within two seconds, so the map
    /// stays near twice the instance budget however many addresses an attacker has.
    /// </summary>
    private const int PruneAbove = 4096;

    internal const int MaxTrusted = 10_000;

    internal static readonly TimeSpan TrustedFor = TimeSpan.FromMinutes(10);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Bucket> _byAddress = new(StringComparer.Ordinal);
    private Bucket _instance = new(2.0 * settings.UnverifiedPerSecond, clock.GetTimestamp());
    private long _prunedAt = clock.GetTimestamp();

    // Oldest verification first: expiry and eviction take from the front, a repeat moves its address to the back.
    private readonly LinkedList<(string Address, long VerifiedAt)> _trustedByAge = new();
    private readonly Dictionary<string, LinkedListNode<(string Address, long VerifiedAt)>> _trusted = new(StringComparer.Ordinal);

    /// <summary>A webhook from <paramref name="address"/> verified: it is trusted for <see cref="TrustedFor"/> from now.</summary>
    public void Verified(string address)
    {
        lock (_gate)
        {
            var now = clock.GetTimestamp();
            if (_trusted.Remove(address, out var node))
            {
                _trustedByAge.Remove(node);
            }

            _trusted[address] = _trustedByAge.AddLast((address, now));
            while (_trusted.Count > MaxTrusted)
            {
                _trusted.Remove(_trustedByAge.First!.Value.Address);
                _trustedByAge.RemoveFirst();
            }
        }
    }

    /// <summary>Whether <paramref name="address"/> sent a verified webhook within <see cref="TrustedFor"/>.</summary>
    public bool IsTrusted(string address)
    {
        lock (_gate)
        {
            return IsTrusted(address, clock.GetTimestamp());
        }
    }

    private bool IsTrusted(string address, long now)
    {
        while (_trustedByAge.First is { } oldest && clock.GetElapsedTime(oldest.Value.VerifiedAt, now) >= TrustedFor)
        {
            _trusted.Remove(oldest.Value.Address);
            _trustedByAge.RemoveFirst();
        }

        return _trusted.ContainsKey(address);
    }

    /// <returns>How long the client should wait when its address, or the instance, has no budget left; null when it may be verified (always, for a trusted address).</returns>
    public TimeSpan? RefusedFor(string address)
    {
        lock (_gate)
        {
            var now = clock.GetTimestamp();
            if (IsTrusted(address, now))
            {
                return null;
            }

            _instance = _instance.Refilled(settings.UnverifiedPerSecond, now, clock);
            if (_instance.Tokens < 1)
            {
                return _instance.Wait(settings.UnverifiedPerSecond);
            }

            if (_byAddress.TryGetValue(address, out var bucket))
            {
                bucket = bucket.Refilled(settings.UnverifiedPerAddressPerSecond, now, clock);
                _byAddress[address] = bucket;
                if (bucket.Tokens < 1)
                {
                    return bucket.Wait(settings.UnverifiedPerAddressPerSecond);
                }
            }

            return null;
        }
    }

    /// <summary>A request from <paramref name="address"/> failed verification: it spends from both budgets.</summary>
    public void Failed(string address)
    {
        lock (_gate)
        {
            var now = clock.GetTimestamp();
            _instance = _instance.Refilled(settings.UnverifiedPerSecond, now, clock).Spent();
            var bucket = _byAddress.TryGetValue(address, out var known)
                ? known.Refilled(settings.UnverifiedPerAddressPerSecond, now, clock)
                : new Bucket(2.0 * settings.UnverifiedPerAddressPerSecond, now);
            _byAddress[address] = bucket.Spent();
            if (_byAddress.Count > PruneAbove && clock.GetElapsedTime(_prunedAt, now) >= TimeSpan.FromSeconds(1))
            {
                _prunedAt = now;
                foreach (var (key, value) in _byAddress)
                {
                    if (value.Refilled(settings.UnverifiedPerAddressPerSecond, now, clock).Tokens >= 2.0 * settings.UnverifiedPerAddressPerSecond)
                    {
                        _byAddress.Remove(key);
                    }
                }
            }
        }
    }

    private readonly record struct Bucket(double Tokens, long UpdatedAt)
    {
        public Bucket Refilled(int perSecond, long now, TimeProvider clock) =>
            new(Math.Min(2.0 * perSecond, Tokens + (clock.GetElapsedTime(UpdatedAt, now).TotalSeconds * perSecond)), now);

        // Not below zero: requests that passed the check together may all fail; the address is refused either way.
        public Bucket Spent() => this with { Tokens = Math.Max(0, Tokens - 1) };

        public TimeSpan Wait(int perSecond) => TimeSpan.FromSeconds((1 - Tokens) / perSecond);
    }
}
