using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// One real host process (<c>dotnet EventBackbone.X.dll</c>) on a free loopback port, with its output captured so a
/// failing test can show what the host said.
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    private const int Sigterm = 15;

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();
    private readonly Lock _gate = new();
    private readonly string? _outputFile;

    private HostProcess(string project, Process process, Uri baseAddress, string? outputFile)
    {
        Project = project;
        _process = process;
        BaseAddress = baseAddress;
        _outputFile = outputFile;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Project { get; }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public DateTime StartedAt { get; } = DateTime.UtcNow;

    /// <summary>The OS process id, e.g. to read its memory use from <c>/proc/{Pid}/status</c>.</summary>
    public int Pid => _process.Id;

    /// <summary>The host's resident memory (VmRSS) in bytes; null once the process and its <c>/proc</c> entry are gone.</summary>
    public long? ResidentBytes()
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/status").FirstOrDefault(x => x.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null
                ? null
                : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception gone) when (gone is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the host wrote to stdout.</summary>
    public string Output
    {
        get
        {
            if (_outputFile is not null)
            {
                return File.Exists(_outputFile) ? File.ReadAllText(_outputFile) : "";
            }

            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Everything the host wrote to stderr.</summary>
    public string Errors
    {
        get
        {
            lock (_gate)
            {
                return _errors.ToString();
            }
        }
    }

    public string Logs => $"----- {Project} (pid {_process.Id}) stdout -----\n{Output}\n----- {Project} stderr -----\n{Errors}";

    /// <summary>
    /// Starts the built host with exactly <paramref name="settings"/> on top of its appsettings.json: inherited
    /// Backbone/ConnectionStrings variables are removed so the developer's shell cannot change what is tested.
    /// </summary>
    /// <param name="outputFile">
    /// Where the host's stdout goes instead of this process's memory: a benchmark's host writes a log line per request,
    /// and reading those lines into a string here cost this process a fifth of a core that the host under test then
    /// did not have (Webhooks.Bench). A file is what a container runtime's log driver gives it.
    /// </param>
    public static HostProcess Start(string project, IReadOnlyDictionary<string, string> settings, string? outputFile = null) =>
        StartAssembly(project, RepositoryLayout.HostAssembly(project), settings, [], outputFile);

    /// <summary>Starts any built program of ours, e.g. a probe from <c>tests/</c>, with extra command-line arguments.</summary>
    public static HostProcess StartAssembly(
        string project, string assembly, IReadOnlyDictionary<string, string> settings, IEnumerable<string> arguments, string? outputFile = null)
    {
        var baseAddress = new Uri($"http://127.0.0.1:{FreePort()}");
        // With an output file, a shell opens it and replaces itself with dotnet (exec): same pid, stdout in the file.
        var start = new ProcessStartInfo(outputFile is null ? "dotnet" : "/bin/sh")
        {
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
            RedirectStandardOutput = outputFile is null,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (outputFile is not null)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("exec dotnet \"$@\" > \"$BACKBONE_HOST_STDOUT\"");
            start.ArgumentList.Add("sh");
            start.Environment["BACKBONE_HOST_STDOUT"] = outputFile;
        }

        start.ArgumentList.Add(assembly);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(baseAddress.ToString().TrimEnd('/'));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.ToList())
        {
            if (name.StartsWith("Backbone__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase))
            {
                start.Environment.Remove(name);
            }
        }

        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new HostProcess(project, process, baseAddress, outputFile);
        process.OutputDataReceived += (_, line) => host.Append(host._output, line.Data);
        process.ErrorDataReceived += (_, line) => host.Append(host._errors, line.Data);
        process.Start();
        if (outputFile is null)
        {
            process.BeginOutputReadLine();
        }

        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>
    /// How long a host may take to become ready. A host's start is mostly JIT and its first database round trips, which
    /// on two cores under the suite's parallel load (load average 20+) took over 60 s: the CI run failed a whole fixture
    /// with "Sagas was not ready within 60 s" while the host was still migrating. Readiness is a precondition, not a
    /// measured speed, so the wait is generous; a host that exits early still fails at once.
    /// </summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    /// <summary>Waits until <c>/health/ready</c> answers 200; fails with the host's logs if it exits or times out.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Project} exited with code {_process.ExitCode} before it was ready.\n{Logs}");
            }

            try
            {
                using var response = await Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{Project} was not ready within {timeout.TotalSeconds} s.\n{Logs}");
    }

    /// <summary>Waits until the host has written <paramref name="text"/> to stdout; fails with its logs otherwise.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Project} exited with code {_process.ExitCode} before writing '{text}'.\n{Logs}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Project} did not write '{text}' within {timeout.TotalSeconds} s.\n{Logs}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>SIGKILL: no shutdown hooks, no flush, no ack — the crash the durable core must survive.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM, as an orchestrator stops a host: answers its exit code once it has stopped by itself.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        _ = Kill(_process.Id, Sigterm);
        return await WaitForExitAsync(timeout);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Project} did not exit within {timeout.TotalSeconds} s.\n{Logs}");
        }

        return _process.ExitCode;
    }

    /// <summary>SIGTERM, then SIGKILL if the host has not stopped within the grace period.</summary>
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, Sigterm);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            target.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
