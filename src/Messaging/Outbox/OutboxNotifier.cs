using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace EventBackbone.Messaging.Outbox;

/// <summary>
/// Wakes the delivery services of other instances (LISTEN <see cref="Channel"/>) after local commits of outbox groups
/// that are not sent from memory here (scheduled ones, or with no delivery service running in this process), with at
/// most one NOTIFY per <see cref="CoalesceWindow"/>: one per commit would serialize commits on PostgreSQL's notify lock.
/// Polling stays the fallback if a NOTIFY is lost (e.g. to a database restart).
/// </summary>
internal sealed class OutboxNotifier<TDbContext>(ServiceDataSource<TDbContext> database, OutboxSignal signal) : BackgroundService
    where TDbContext : DbContext
{
    public const string Channel = "backbone_outbox";
    public static readonly TimeSpan CoalesceWindow = TimeSpan.FromMilliseconds(20);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await signal.WaitForOtherInstancesRequestAsync(stoppingToken);
                await using (var notify = database.DataSource.CreateCommand($"NOTIFY {Channel}"))
                {
                    await notify.ExecuteNonQueryAsync(stoppingToken);
                }

                await Task.Delay(CoalesceWindow, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception outage) when (DatabaseFailures.IsUnavailable(outage))
            {
                // The delivery loop reports outages; other instances fall back to polling meanwhile.
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
