using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.DeadLetters.Capture;

/// <summary>
/// Deletes archived dead letters older than <c>Backbone:DeadLetters:ArchiveRetention</c> (default 30 days), in bounded
/// batches so a large backlog never holds long locks, each deletion audited as <c>expire</c>.
/// </summary>
public sealed partial class ArchiveRetention(DeadLetterSettings settings, NpgsqlDataSource dataSource, TimeProvider clock, ILogger<ArchiveRetention> logger)
    : BackgroundService
{
    private const int BatchSize = 500;

    public async Task<int> ExpireAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            await using var expire = dataSource.CreateCommand("""
                WITH expired AS (
                    DELETE FROM dead_letters WHERE message_id IN (
                        SELECT message_id FROM dead_letters WHERE status = 'archived' AND last_failed_at < $1 LIMIT $2)
                    RETURNING message_id)
                INSERT INTO dead_letter_audit (at, actor, action, message_id, detail)
                SELECT $3, 'retention', 'expire', message_id, 'archived longer than the retention' FROM expired
                """);
            expire.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() - settings.ArchiveRetention });
            expire.Parameters.Add(new NpgsqlParameter { Value = BatchSize });
            expire.Parameters.Add(new NpgsqlParameter { Value = clock.GetUtcNow() });
            var deleted = await expire.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
            if (deleted < BatchSize)
            {
                return total;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var expired = await ExpireAsync(stoppingToken);
                if (expired > 0)
                {
                    LogExpired(logger, expired);
                }
            }
            catch (NpgsqlException outage)
            {
                LogOutage(logger, outage.Message);
            }

            await Task.Delay(TimeSpan.FromHours(1), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [LoggerMessage(LogLevel.Information, "Deleted {Count} archived dead letters past their retention")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(LogLevel.Warning, "Archive retention could not run ({Reason}); trying again in an hour")]
    private static partial void LogOutage(ILogger logger, string reason);
}
