using System.Diagnostics;
using System.Globalization;
using EventBackbone.TestInfrastructure;
using Npgsql;

namespace EventBackbone.Bench.Harness;

/// <summary>CPU time (ms) and loopback bytes at one instant; a phase's figures are the difference of two.</summary>
public sealed record ResourceSnapshot(double ClientCpuMs, double BrokerCpuMs, double PostgresCpuMs, long LoopbackTxBytes);

/// <summary>Highest resident memory seen while sampling, in MiB; NaN where the process could not be read.</summary>
public sealed record MemoryPeaks(double ClientMiB, double BrokerMiB, double PostgresMiB);

/// <summary>
/// Reads what the figures need from Linux's /proc: CPU of this process, of the RabbitMQ node (the
/// <c>beam.smp</c> that listens on the AMQP port; summed over the nodes of a cluster) and of the PostgreSQL cluster (its
/// postmaster and every child; summed over a primary and its standby);
/// resident memory of the same three; and the loopback interface's transmitted bytes. The servers are shared with
/// whatever else runs on this machine, so their figures include that load too (bench/README.md says so).
/// On a system without /proc every figure is NaN and the run goes on.
/// </summary>
public sealed class ResourceMeter
{
    // Every node of a broker cluster and every server of a primary + standby pair: a message costs CPU on each.
    private readonly IReadOnlyList<int>? _brokerPids;
    private readonly IReadOnlyList<int>? _postmasterPids;

    private ResourceMeter(IReadOnlyList<int>? brokerPids, IReadOnlyList<int>? postmasterPids)
    {
        _brokerPids = brokerPids;
        _postmasterPids = postmasterPids;
    }

    public string Describe() =>
        $"RabbitMQ pid {Pids(_brokerPids)}, PostgreSQL postmaster pid {Pids(_postmasterPids)}";

    public static Task<ResourceMeter> FindAsync(int amqpPort, string postgresAdminConnectionString) =>
        FindAsync([amqpPort], [postgresAdminConnectionString]);

    /// <summary>
    /// The broker nodes listening on <paramref name="amqpPorts"/> and the PostgreSQL servers behind
    /// <paramref name="postgresAdminConnectionStrings"/> (one each). A figure is summed over all of them, or NaN when
    /// any one is not found: a sum missing a node would look like a cheaper cluster.
    /// </summary>
    public static async Task<ResourceMeter> FindAsync(IReadOnlyList<int> amqpPorts, IReadOnlyList<string> postgresAdminConnectionStrings)
    {
        if (!Directory.Exists("/proc/self"))
        {
            return new ResourceMeter(null, null);
        }

        var postmasters = new List<int>();
        foreach (var connectionString in postgresAdminConnectionStrings)
        {
            // The postmaster is the parent of the backend serving this connection: exact even with two clusters running.
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var query = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
            var backend = (int)(await query.ExecuteScalarAsync())!;
            // Read locally only when the server is on this machine (its backend pid is then one of ours to see).
            if (ReadStatusField(backend, "PPid") is { } parent && CommandName((int)parent) == "postgres")
            {
                postmasters.Add((int)parent);
            }
        }

        var brokers = amqpPorts.Select(port => FindListener("beam.smp", port)).OfType<int>().ToList();
        return new ResourceMeter(
            brokers.Count == amqpPorts.Count ? brokers : null,
            postmasters.Count == postgresAdminConnectionStrings.Count ? postmasters : null);
    }

    public ResourceSnapshot Take()
    {
        using var self = Process.GetCurrentProcess();
        return new ResourceSnapshot(
            self.TotalProcessorTime.TotalMilliseconds,
            _brokerPids is { } brokers ? brokers.Sum(broker => CpuTicks(broker, includeReapedChildren: false)) / ProcessCpu.TicksPerMs : double.NaN,
            _postmasterPids is { } postmasters ? postmasters.Sum(PostgresCpuTicks) / ProcessCpu.TicksPerMs : double.NaN,
            LoopbackTxBytes());
    }

    /// <summary>
    /// Samples resident memory every <paramref name="interval"/> until disposed and keeps the peaks. This process's
    /// figure is VmRSS; the broker's too; PostgreSQL's is the sum over its processes of their private (anonymous) pages
    /// plus the largest file-backed and the largest shared-memory share of any one of them: the binary, its libraries
    /// and shared buffers are mapped by every backend and would otherwise be counted once per backend.
    /// </summary>
    public MemorySampler StartSampling(TimeSpan interval) => new(this, interval);

    public sealed class MemorySampler : IAsyncDisposable
    {
        private readonly ResourceMeter _meter;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private double _client = double.NaN;
        private double _broker = double.NaN;
        private double _postgres = double.NaN;

        internal MemorySampler(ResourceMeter meter, TimeSpan interval)
        {
            _meter = meter;
            Sample(null);
            _loop = Task.Run(() => LoopAsync(interval));
        }

        public MemoryPeaks Peaks => new(_client, _broker, _postgres);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
                // The sampler stops by cancellation.
            }

            _stop.Dispose();
        }

        private async Task LoopAsync(TimeSpan interval)
        {
            using var timer = new PeriodicTimer(interval);
            var children = _meter._postmasterPids is { } postmasters ? postmasters.Select(ChildrenOf).ToList() : null;
            var refreshed = Stopwatch.GetTimestamp();
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                // Backends come and go with the connection pools; listing /proc each tick would cost more than reading.
                if (_meter._postmasterPids is { } pids && Stopwatch.GetElapsedTime(refreshed) > TimeSpan.FromSeconds(1))
                {
                    children = pids.Select(ChildrenOf).ToList();
                    refreshed = Stopwatch.GetTimestamp();
                }

                Sample(children);
            }
        }

        /// <param name="postgresChildren">Per postmaster, its children as last listed; null lists them now.</param>
        private void Sample(IReadOnlyList<List<int>>? postgresChildren)
        {
            _client = Max(_client, ReadStatusField(Environment.ProcessId, "VmRSS") / 1024.0);
            if (_meter._brokerPids is { } brokers)
            {
                _broker = Max(_broker, brokers.Sum(broker => ReadStatusField(broker, "VmRSS") ?? 0) / 1024.0);
            }

            if (_meter._postmasterPids is { } postmasters)
            {
                double totalMiB = 0;
                for (var server = 0; server < postmasters.Count; server++)
                {
                    long anonymousKb = 0;
                    long fileKb = 0;
                    long sharedKb = 0;
                    var postmaster = postmasters[server];
                    foreach (var pid in (postgresChildren?[server] ?? ChildrenOf(postmaster)).Prepend(postmaster))
                    {
                        anonymousKb += ReadStatusField(pid, "RssAnon") ?? 0;
                        fileKb = Math.Max(fileKb, ReadStatusField(pid, "RssFile") ?? 0);
                        sharedKb = Math.Max(sharedKb, ReadStatusField(pid, "RssShmem") ?? 0);
                    }

                    totalMiB += (anonymousKb + fileKb + sharedKb) / 1024.0;
                }

                _postgres = Max(_postgres, totalMiB);
            }
        }

        private static double Max(double peak, double? value) =>
            value is not { } v || !double.IsFinite(v) ? peak : double.IsFinite(peak) ? Math.Max(peak, v) : v;
    }

    /// <summary>
    /// The postmaster's own CPU, the CPU its exited children left in its cutime/cstime when it reaped them, and the CPU
    /// of its live children: a backend that exits between two snapshots moves its ticks from one term to another
    /// instead of vanishing.
    /// </summary>
    private static double PostgresCpuTicks(int postmaster)
    {
        var total = CpuTicks(postmaster, includeReapedChildren: true);
        foreach (var child in ChildrenOf(postmaster))
        {
            total += CpuTicks(child, includeReapedChildren: false);
        }

        return total;
    }

    private static double CpuTicks(int pid, bool includeReapedChildren) =>
        ProcessCpu.Ticks(pid, includeReapedChildren) ?? 0;

    private static List<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStatusField(pid, "PPid") == parent)
            {
                children.Add(pid);
            }
        }

        return children;
    }

    /// <summary>A numeric field of /proc/&lt;pid&gt;/status (memory fields are in kB); null when the process is gone.</summary>
    private static long? ReadStatusField(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal) && line.Length > field.Length && line[field.Length] == ':')
                {
                    var value = line[(field.Length + 1)..].Trim().Split(' ')[0];
                    return long.Parse(value, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // Exited between listing and reading.
        }
        catch (UnauthorizedAccessException)
        {
            // Another user's process on a hardened /proc.
        }

        return null;
    }

    /// <summary>The process called <paramref name="name"/> that owns the socket listening on <paramref name="port"/>.</summary>
    private static int? FindListener(string name, int port)
    {
        var inodes = new HashSet<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // local_address is HEXIP:HEXPORT, st 0A is LISTEN, the inode is column 10.
                if (columns.Length > 9 && columns[3] == "0A"
                    && int.Parse(columns[1][(columns[1].IndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    inodes.Add($"socket:[{columns[9]}]");
                }
            }
        }

        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                    || CommandName(pid) != name)
                {
                    continue;
                }

                foreach (var fd in Directory.EnumerateFiles($"{directory}/fd"))
                {
                    if (new FileInfo(fd).LinkTarget is { } target && inodes.Contains(target))
                    {
                        return pid;
                    }
                }
            }
            catch (IOException)
            {
                // Exited while being looked at.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to inspect.
            }
        }

        return null;
    }

    private static string Pids(IReadOnlyList<int>? pids) =>
        pids is null ? "not found" : string.Join(" + ", pids.Select(pid => pid.ToString(CultureInfo.InvariantCulture)));

    private static string? CommandName(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static long LoopbackTxBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/net/dev"))
            {
                var colon = line.IndexOf(':');
                if (colon > 0 && line[..colon].Trim() == "lo")
                {
                    // Receive has 8 columns (bytes first), then transmit (bytes first).
                    return long.Parse(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[8], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // No /proc/net/dev: the figure is reported as missing.
        }

        return -1;
    }
}
