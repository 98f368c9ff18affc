namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Bounds how many webhook bodies this instance reads at once, and how many of them one client address reads: a
/// body is held in memory until it is verified, and 600 unsigned connections that each declared 1 MiB and sent one
/// byte ran a 512 MiB pod out of memory. The per-address share keeps one address from taking every slot, so a
/// signed webhook from another sender still gets one.
/// </summary>
internal sealed class BodyReadSlots(WebhookEdgeSettings settings)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _byAddress = new(StringComparer.Ordinal);
    private int _total;

    /// <returns>The slot (dispose it once the body is verified or refused), or null when none is free for this address.</returns>
    public Slot? TryEnter(string address)
    {
        lock (_gate)
        {
            _byAddress.TryGetValue(address, out var held);
            if (_total >= settings.MaxConcurrentBodyReads || held >= settings.MaxConcurrentBodyReadsPerAddress)
            {
                return null;
            }

            _total++;
            _byAddress[address] = held + 1;
        }

        return new Slot(this, address);
    }

    private void Exit(string address)
    {
        lock (_gate)
        {
            _total--;
            // Removed at zero: the map holds at most MaxConcurrentBodyReads addresses, however many come and go.
            if (--_byAddress[address] == 0)
            {
                _byAddress.Remove(address);
            }
        }
    }

    internal sealed class Slot(BodyReadSlots slots, string address) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                slots.Exit(address);
            }
        }
    }
}
