using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace EventBackbone.Webhooks.Bench;

/// <param name="Requests">Responses wrk counted.</param>
/// <param name="Failed">Responses outside 2xx/3xx, plus socket errors.</param>
public sealed record WrkResult(long Requests, long Failed, double Seconds, double P50Ms, double P99Ms)
{
    public double SucceededPerSecond => (Requests - Failed) / Seconds;
}

/// <summary>Runs the Debian <c>wrk</c> with a generated Lua script and reads its summary.</summary>
internal static partial class Wrk
{
    public static bool IsInstalled() =>
        Environment.GetEnvironmentVariable("PATH")?.Split(':').Any(dir => File.Exists(Path.Combine(dir, "wrk"))) == true;

    /// <summary>
    /// A script that cycles through pre-signed requests (wrk's Lua has no HMAC), and, for a paced run, waits
    /// <paramref name="delayMs"/> before each request on a connection.
    /// </summary>
    public static string WriteScript(string path, IReadOnlyList<(string Body, string Signature)> requests, int? delayMs)
    {
        var script = new StringBuilder();
        script.AppendLine("local bodies = {");
        foreach (var (body, _) in requests)
        {
            script.AppendLine($"  [==[{body}]==],");
        }

        script.AppendLine("}");
        script.AppendLine("local signatures = {");
        foreach (var (_, signature) in requests)
        {
            script.AppendLine($"  \"{signature}\",");
        }

        script.AppendLine("}");
        script.AppendLine("""
            local prepared = {}
            local i = 0
            function init(args)
              for k = 1, #bodies do
                prepared[k] = wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["X-Signature"] = signatures[k] }, bodies[k])
              end
              i = math.random(#bodies) - 1
            end
            function request()
              i = i % #prepared + 1
              return prepared[i]
            end
            """);
        if (delayMs is { } delay)
        {
            script.AppendLine(CultureInfo.InvariantCulture, $"function delay() return {delay} end");
        }

        File.WriteAllText(path, script.ToString());
        return path;
    }

    public static async Task<WrkResult> RunAsync(Uri url, string script, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "-t", "2", "-c", connections.ToString(CultureInfo.InvariantCulture), "-d", $"{(int)duration.TotalSeconds}s",
            "--timeout", "10s", "--latency", "-s", script, url.ToString(),
        })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start.");
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk failed ({process.ExitCode}): {errors}\n{output}");
        }

        return Parse(output);
    }

    public static WrkResult Parse(string output)
    {
        var total = Total().Match(output);
        if (!total.Success)
        {
            throw new FormatException($"No request count in wrk's output:\n{output}");
        }

        var requests = long.Parse(total.Groups["requests"].Value, CultureInfo.InvariantCulture);
        var seconds = Duration(total.Groups["duration"].Value);
        var non2xx = NonSuccess().Match(output) is { Success: true } bad ? long.Parse(bad.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var socketErrors = SocketErrors().Match(output) is { Success: true } socket
            ? socket.Groups.Values.Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture))
            : 0;
        return new WrkResult(requests, non2xx + socketErrors, seconds, Percentile(output, "50"), Percentile(output, "99"));
    }

    private static double Percentile(string output, string percent)
    {
        var match = Regex.Match(output, $@"^\s+{percent}(?:\.000)?%\s+(?<value>[\d.]+)(?<unit>us|ms|s|m)\s*$", RegexOptions.Multiline);
        return match.Success
            ? Milliseconds(double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture), match.Groups["unit"].Value)
            : throw new FormatException($"No {percent}% latency in wrk's output:\n{output}");
    }

    private static double Duration(string text)
    {
        var match = Regex.Match(text, @"^(?<value>[\d.]+)(?<unit>us|ms|s|m)$");
        return Milliseconds(double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture), match.Groups["unit"].Value) / 1000;
    }

    private static double Milliseconds(double value, string unit) => unit switch
    {
        "us" => value / 1000,
        "ms" => value,
        "s" => value * 1000,
        _ => value * 60_000,
    };

    [GeneratedRegex(@"(?<requests>\d+) requests in (?<duration>[\d.]+(?:us|ms|s|m)),")]
    private static partial Regex Total();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex NonSuccess();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();
}
