namespace EventBackbone.TestInfrastructure;

public static class Eventually
{
    /// <summary>
    /// Polls until <paramref name="condition"/> holds; on time-out fails with <paramref name="explain"/>'s text
    /// (e.g. the hosts' logs), so a failure shows what the system did, not just that it didn't.
    /// </summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> explain)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Condition did not hold within {timeout.TotalSeconds} s.\n{explain()}");
            }

            await Task.Delay(100);
        }
    }
}
