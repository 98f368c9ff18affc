namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Bounds how many webhook bodies this instance reads at once, and how many of them one client address reads: a
/// body is held in memory until it is verified, and 600 unsigned connections that each declared 1 MiB and sent one
/// byte ran a 512 MiB pod out of memory. The per-address share keeps one address from taking every slot, so a
/// signed webhook from another sender still gets one.
/// <para>
/// A quarter of the slots are kept for addresses that recently sent a verified webhook (<see cref="UnverifiedTraffic.IsTrusted"/>),
/// outside the per-address share: 4 addresses × 16 slow connections held all 64 slots, so every webhook was a 503,
/// and one slow attacker behind a sender's shared egress address took that sender's share. The reserve is not
/// shared per address either, so an attacker behind a trusted address holds at most its share plus the reserve
/// (32 of 64 by default), each only until the body read deadline.
/// </para>
/// </summary>
internal sealed class BodyReadSlots(WebhookEdgeSettings settings)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _byAddress = new(StringComparer.Ordinal);
    private int _shared;
    private int _reserved;

    private int Reserve => settings.MaxConcurrentBodyReads / 4;

    /// <param name="address">The client address.</param>
    /// <param name="trusted">Whether it recently sent a verified webhook: it may also take a reserved slot.</param>
    /// <returns>The slot (dispose it once the body is verified or refused), or null when none is free for this address.</returns>
    public Slot? TryEnter(string address, bool trusted)
    {
        lock (_gate)
        {
            _byAddress.TryGetValue(address, out var held);
            if (_shared < settings.MaxConcurrentBodyReads - Reserve && held < settings.MaxConcurrentBodyReadsPerAddress)
            {
                _shared++;
                _byAddress[address] = held + 1;
                return new Slot(this, address, reserved: false);
            }

            if (trusted && _reserved < Reserve)
            {
                _reserved++;
                return new Slot(this, address, reserved: true);
            }

            return null;
        }
    }

    private void Exit(string address, bool reserved)
    {
        lock (_gate)
        {
            if (reserved)
            {
                _reserved--;
                return;
            }

            _shared--;
            // Removed at zero: the map holds at most MaxConcurrentBodyReads addresses, however many come and go.
            if (--_byAddress[address] == 0)
            {
                _byAddress.Remove(address);
            }
        }
    }

    internal sealed class Slot(BodyReadSlots slots, string address, bool reserved) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                slots.Exit(address, reserved);
            }
        }
    }
}
