using System.Globalization;

namespace EventBackbone.TestInfrastructure;

/// <summary>A process's CPU time from Linux's /proc, for the benchmarks' CPU-per-message figures.</summary>
public static class ProcessCpu
{
    /// <summary>USER_HZ: /proc reports CPU in these ticks, fixed at 100 per second by the kernel's ABI.</summary>
    public const double TicksPerMs = 100 / 1000.0;

    /// <summary>User + system ticks (and, if asked, those of its reaped children); null when the process is gone or there is no /proc.</summary>
    public static double? Ticks(int pid, bool includeReapedChildren = false)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14–17.
        var ticks = double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
        if (includeReapedChildren)
        {
            ticks += double.Parse(fields[13], CultureInfo.InvariantCulture) + double.Parse(fields[14], CultureInfo.InvariantCulture);
        }

        return ticks;
    }

    /// <summary>User + system CPU in milliseconds; NaN when it cannot be read.</summary>
    public static double Milliseconds(int pid) => Ticks(pid) is { } ticks ? ticks / TicksPerMs : double.NaN;
}
