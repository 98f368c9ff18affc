using System.Diagnostics;

namespace EventBackbone.Bench.Harness;

/// <summary>
/// The one sink a contender's consumer reports to for the whole run; it hands each arrival to the phase that is
/// open. An arrival for no open phase (a redelivery or a straggler of an earlier phase) is a stray: it would
/// otherwise be silently credited to the wrong phase or lost from the count.
/// </summary>
public sealed class ArrivalRouter : IArrivalSink
{
    private PhaseLog? _current;
    private int _strays;

    public int Strays => Volatile.Read(ref _strays);

    public void Arrived(BenchMessage message)
    {
        // Read the clock first: anything done before it would be added to the latency of every message.
        var now = Stopwatch.GetTimestamp();
        var log = Volatile.Read(ref _current);
        if (log is null || !log.TryRecord(message, now))
        {
            Interlocked.Increment(ref _strays);
        }
    }

    public PhaseLog Open(int expected)
    {
        var log = new PhaseLog(Guid.NewGuid(), expected);
        Volatile.Write(ref _current, log);
        return log;
    }

    public void Close() => Volatile.Write(ref _current, null);
}

/// <summary>Arrivals of one phase, counted by sequence number: every message once, none twice, none missing.</summary>
public sealed class PhaseLog
{
    private readonly int[] _counts;
    private readonly long[] _latencyTicks;
    private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastArrival;
    private int _unique;
    private int _duplicates;

    public PhaseLog(Guid phaseId, int expected)
    {
        PhaseId = phaseId;
        Expected = expected;
        _counts = new int[expected];
        _latencyTicks = new long[expected];
    }

    public Guid PhaseId { get; }

    public int Expected { get; }

    public int Unique => Volatile.Read(ref _unique);

    public int Duplicates => Volatile.Read(ref _duplicates);

    public long LastArrival => Interlocked.Read(ref _lastArrival);

    public Task Complete => _complete.Task;

    public bool TryRecord(BenchMessage message, long arrivedAt)
    {
        if (message.PhaseId != PhaseId || (uint)message.Sequence >= (uint)Expected)
        {
            return false;
        }

        if (Interlocked.Increment(ref _counts[message.Sequence]) > 1)
        {
            Interlocked.Increment(ref _duplicates);
            return true;
        }

        _latencyTicks[message.Sequence] = arrivedAt - message.SentTimestamp;
        var last = Interlocked.Read(ref _lastArrival);
        while (arrivedAt > last)
        {
            var seen = Interlocked.CompareExchange(ref _lastArrival, arrivedAt, last);
            if (seen == last)
            {
                break;
            }

            last = seen;
        }

        if (Interlocked.Increment(ref _unique) == Expected)
        {
            _complete.TrySetResult();
        }

        return true;
    }

    /// <summary>Latencies of the messages that arrived, in milliseconds, sorted.</summary>
    public double[] SortedLatenciesMs()
    {
        var latencies = new List<double>(Expected);
        for (var i = 0; i < Expected; i++)
        {
            if (Volatile.Read(ref _counts[i]) > 0)
            {
                latencies.Add(_latencyTicks[i] * 1000.0 / Stopwatch.Frequency);
            }
        }

        latencies.Sort();
        return [.. latencies];
    }
}
