using System.Globalization;

namespace EventBackbone.TestInfrastructure;

/// <summary>What every benchmark program under <c>bench/</c> needs from its command line and its machine.</summary>
public static class BenchConsole
{
    /// <summary>A positive whole number after <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public static int ReadInt(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : fallback;
    }

    /// <summary>Checks <paramref name="condition"/> every 20 ms; a stuck run fails naming <paramref name="what"/> instead of hanging.</summary>
    public static async Task PollAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(System.Diagnostics.Stopwatch.Frequency * timeout.TotalSeconds);
        while (!await condition())
        {
            if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException(what);
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Other sessions share this machine: a figure read without the load it was measured under invites false conclusions.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
