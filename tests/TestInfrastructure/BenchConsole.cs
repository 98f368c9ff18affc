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

    /// <summary>Other sessions share this machine: a figure read without the load it was measured under invites false conclusions.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
