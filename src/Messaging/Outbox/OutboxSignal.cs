namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Commits that added outbox groups this process does not send from memory (see <see cref="OutboxHandoff"/>) raise
/// this. It wakes this process's delivery service's claim at once, and asks
/// <see cref="OutboxNotifier{TDbContext}"/> to wake the other instances with PostgreSQL NOTIFY.
/// </summary>
internal sealed class OutboxSignal
{
    private readonly SemaphoreSlim _delivery = new(0, 1);
    private readonly SemaphoreSlim _otherInstances = new(0, 1);

    public void Set()
    {
        Release(_delivery);
        Release(_otherInstances);
    }

    /// <summary>Wakes only this process's delivery service (a LISTEN notification from another instance).</summary>
    public void SetLocal() => Release(_delivery);

    /// <summary>True when signalled, false when <paramref name="timeout"/> passed first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _delivery.WaitAsync(timeout, cancellationToken);

    public Task WaitForOtherInstancesRequestAsync(CancellationToken cancellationToken) =>
        _otherInstances.WaitAsync(cancellationToken);

    private static void Release(SemaphoreSlim semaphore)
    {
        try
        {
            if (semaphore.CurrentCount == 0)
            {
                semaphore.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: one wake-up covers any number of commits.
        }
    }
}
