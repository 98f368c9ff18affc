using System.Diagnostics.Metrics;
using EventBackbone.Messaging.Sagas;
using EventBackbone.TestInfrastructure;
using MassTransit;

namespace EventBackbone.Messaging.Tests.Sagas;

/// <summary>Reads the counter table directly, so assertions see what was committed, not what a DbContext tracks.</summary>
internal sealed class CounterRows(ScratchDatabase database)
{
    public Task<long> CountAsync(Guid counterId) =>
        database.ScalarAsync<long>($"SELECT count(*) FROM {CounterDbContext.Table} WHERE correlation_id = @id", ("id", counterId));

    public Task<long> CountByEmailAsync(string email) =>
        database.ScalarAsync<long>($"SELECT count(*) FROM {CounterDbContext.Table} WHERE email = @email", ("email", email));

    public Task<int> IncrementsAsync(Guid counterId) => ColumnAsync(counterId, "increments");

    public Task<int> LookupsAsync(Guid counterId) => ColumnAsync(counterId, "lookups");

    public Task<int> VersionAsync(Guid counterId) => ColumnAsync(counterId, "version");

    private Task<int> ColumnAsync(Guid counterId, string column) =>
        database.ScalarAsync<int>($"SELECT {column} FROM {CounterDbContext.Table} WHERE correlation_id = @id", ("id", counterId));
}

/// <summary>Counts deliveries of one kind of message that the saga finished with, so a test waits for all of them.</summary>
internal sealed class ConsumedMessages<T>(Func<T, bool> matches) : IConsumeMessageObserver<T>
    where T : class
{
    private int _consumed;
    private int _faulted;

    public int Consumed => Volatile.Read(ref _consumed);

    public int Faulted => Volatile.Read(ref _faulted);

    public Exception? LastFault { get; private set; }

    public Task PreConsume(ConsumeContext<T> context) => Task.CompletedTask;

    public Task PostConsume(ConsumeContext<T> context)
    {
        if (matches(context.Message))
        {
            Interlocked.Increment(ref _consumed);
        }

        return Task.CompletedTask;
    }

    public Task ConsumeFault(ConsumeContext<T> context, Exception exception)
    {
        if (matches(context.Message))
        {
            Interlocked.Increment(ref _faulted);
            LastFault = exception;
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Listens to backbone.saga.conflicts_retried for one test class's vhost only: classes run in parallel and the meter
/// is process-wide, so an unfiltered count could be another class's conflicts.
/// </summary>
internal sealed class ConflictRetries : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly string _virtualHost;
    private long _count;

    public ConflictRetries(string virtualHost)
    {
        _virtualHost = virtualHost;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SagaMetrics.MeterName && instrument.Name == SagaMetrics.ConflictsRetriedInstrument)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.Start();
    }

    public long Count => Interlocked.Read(ref _count);

    private void OnMeasurement(Instrument instrument, long measurement, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "endpoint" && tag.Value is string endpoint && endpoint.Contains(_virtualHost, StringComparison.Ordinal))
            {
                Interlocked.Add(ref _count, measurement);
            }
        }
    }

    public void Dispose() => _listener.Dispose();
}
