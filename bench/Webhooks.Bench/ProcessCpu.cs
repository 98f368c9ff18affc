using System.Globalization;

namespace EventBackbone.Webhooks.Bench;

/// <summary>A process's CPU time (user + system) from Linux's /proc; NaN where there is no /proc.</summary>
internal static class ProcessCpu
{
    /// <summary>USER_HZ: /proc reports CPU in these ticks, fixed at 100 per second by the kernel's ABI.</summary>
    private const double MsPerTick = 10;

    public static double Milliseconds(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return double.NaN;
        }

        // The command name (field 2) is in parentheses and may contain spaces: count fields after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) * MsPerTick;
    }
}
