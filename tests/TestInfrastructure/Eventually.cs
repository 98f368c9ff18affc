namespace EventBackbone.TestInfrastructure;

public static class Eventually
{
    /// <summary>
    /// Polls until <paramref name="condition"/> holds; on time-out fails with <paramref name="explain"/>'s text
    /// (e.g. the hosts' logs), so a failure shows what the system did, not just that it didn't.
    /// </summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> explain)
    {
        if (!await HoldsWithinAsync(condition, timeout))
        {
            throw new TimeoutException($"Condition did not hold within {timeout.TotalSeconds} s.\n{explain()}");
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds: true, or false once <paramref name="timeout"/> has passed (for a spec that reacts to "not yet").</summary>
    public static async Task<bool> HoldsWithinAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(100);
        }
    }
}
