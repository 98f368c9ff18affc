namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Wakes the delivery service of this process right after a commit that added outbox rows, so delivery does not
/// wait for a poll. Other processes are woken by PostgreSQL NOTIFY (see <see cref="OutboxNotifyInterceptor"/>).
/// </summary>
public sealed class OutboxSignal
{
    private readonly SemaphoreSlim _pending = new(0, 1);

    public void Set()
    {
        try
        {
            if (_pending.CurrentCount == 0)
            {
                _pending.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: one wake-up covers any number of commits.
        }
    }

    /// <summary>True when signalled, false when <paramref name="timeout"/> passed first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _pending.WaitAsync(timeout, cancellationToken);
}
