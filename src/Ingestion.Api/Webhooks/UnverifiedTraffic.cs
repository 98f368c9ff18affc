namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Budgets for webhooks that fail verification (bad signature or timestamp, unknown source, wrong media type, too
/// large): a token bucket per client address and one for the instance, each refilled at its rate per second up to
/// twice that. A request is refused before its body is read while its address's bucket, or the instance's, is empty;
/// only a failure spends a token. A sender whose webhooks verify never spends any: junk from elsewhere cannot starve
/// it, which it did while every request spent its source's bucket (item: "anyone can starve a source").
/// </summary>
internal sealed class UnverifiedTraffic(WebhookEdgeSettings settings, TimeProvider clock)
{
    /// <summary>
    /// Above this many tracked addresses, those whose bucket has refilled are forgotten (at most once a second). A
    /// bucket exists only after a failure the instance budget let through, and refills within two seconds, so the map
    /// stays near twice the instance budget however many addresses an attacker has.
    /// </summary>
    private const int PruneAbove = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Bucket> _byAddress = new(StringComparer.Ordinal);
    private Bucket _instance = new(2.0 * settings.UnverifiedPerSecond, clock.GetTimestamp());
    private long _prunedAt = clock.GetTimestamp();

    /// <returns>How long the client should wait when its address, or the instance, has no budget left; null when it may be verified.</returns>
    public TimeSpan? RefusedFor(string address)
    {
        lock (_gate)
        {
            var now = clock.GetTimestamp();
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
