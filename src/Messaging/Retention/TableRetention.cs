using EventBackbone.Messaging.Persistence;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.Messaging.Retention;

/// <summary>
/// <c>Backbone:Retention:Interval</c> (default 1 hour): how often expired rows are deleted (also once at start);
/// <c>Backbone:Retention:BatchSize</c> (default 500): rows per DELETE.
/// </summary>
public sealed record RetentionSettings(TimeSpan Interval, int BatchSize)
{
    public static RetentionSettings Load(IConfiguration configuration)
    {
        var settings = new SettingsReader(configuration);
        return new RetentionSettings(
            settings.Duration("Backbone:Retention:Interval", TimeSpan.FromHours(1), TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)),
            settings.Int("Backbone:Retention:BatchSize", 500, 1, 100_000));
    }
}

/// <summary>
/// Deletes a service's rows past their retention, table by table in the order of its rules, in batches of
/// <see cref="RetentionSettings.BatchSize"/>: each batch is its own short statement, so a large backlog (the first run
/// after an upgrade) never holds locks or bloats one transaction, and each batch is counted as it commits.
/// </summary>
public sealed partial class TableRetention(
    NpgsqlDataSource dataSource,
    IReadOnlyList<RetentionRule> rules,
    RetentionSettings settings,
    RetentionMetrics metrics,
    TimeProvider clock,
    ILogger<TableRetention> logger) : BackgroundService
{
    // One run at a time: the start-up run and one a caller asks for never delete the same rows twice over.
    private readonly SemaphoreSlim _running = new(1, 1);

    public IReadOnlyList<RetentionRule> Rules => rules;

    /// <returns>Rows deleted, by table.</returns>
    public async Task<IReadOnlyDictionary<string, long>> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _running.WaitAsync(cancellationToken);
        try
        {
            var deleted = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var rule in rules)
            {
                deleted[rule.Table] = deleted.GetValueOrDefault(rule.Table) + await SweepAsync(rule, cancellationToken);
            }

            metrics.Run(completed: true);
            return deleted;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            metrics.Run(completed: false);
            throw;
        }
        finally
        {
            _running.Release();
        }
    }

    private async Task<long> SweepAsync(RetentionRule rule, CancellationToken cancellationToken)
    {
        // ctid = ANY(ARRAY(…)) is a TID scan: the batch's rows are fetched by position, not by a second scan of the table.
        // The condition again on the DELETE itself: a row updated while the DELETE waits for its lock is rechecked in its
        // new version, and a TID qual alone is not re-evaluated there on every PostgreSQL release (TidRecheck long
        // returned true) — an archived dead letter that failed again at that moment would be deleted and audited as
        // expired.
        var sql = $"""
            WITH expired AS (
                DELETE FROM {rule.Table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {rule.Table} WHERE {rule.Expired} LIMIT $2)) AND {rule.Expired}
                RETURNING {rule.Returning}){(rule.Then is null ? "" : $", followed AS ({rule.Then})")}
            SELECT count(*) FROM expired
            """;
        long total = 0;
        while (true)
        {
            var now = clock.GetUtcNow();
            await using var command = dataSource.CreateCommand(sql);
            command.Parameters.Add(new NpgsqlParameter { Value = (now - rule.Age).UtcDateTime });
            command.Parameters.Add(new NpgsqlParameter { Value = settings.BatchSize });
            if (rule.Then is not null)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = now.UtcDateTime });
            }

            var deleted = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            if (deleted > 0)
            {
                metrics.Deleted(rule.Table, deleted);
                total += deleted;
            }

            if (deleted < settings.BatchSize)
            {
                if (total > 0)
                {
                    LogDeleted(logger, total, rule.Table, rule.Age);
                }

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
                await RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception failure) when (failure is NpgsqlException or TimeoutException || DatabaseFailures.IsUnavailable(failure))
            {
                // An outage (or a lock timeout) costs one interval of growth, not the host. Npgsql's first connection of
                // a data source throws a bare TimeoutException when the server accepts but does not answer in time:
                // that one escaped and stopped the dead-letter host at start in the fault suite (exit 134).
                LogFailed(logger, failure.Message, settings.Interval);
            }

            await Task.Delay(settings.Interval, clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    public override void Dispose()
    {
        _running.Dispose();
        base.Dispose();
    }

    [LoggerMessage(LogLevel.Information, "Retention deleted {Count} rows of {Table} older than {Age}")]
    private static partial void LogDeleted(ILogger logger, long count, string table, TimeSpan age);

    [LoggerMessage(LogLevel.Warning, "Retention could not run ({Reason}); trying again in {Interval}")]
    private static partial void LogFailed(ILogger logger, string reason, TimeSpan interval);
}

public static class TableRetentionRegistration
{
    /// <summary>
    /// Runs <paramref name="rules"/> against the service's database (the one <paramref name="dataSource"/> gives) in the
    /// background; the <see cref="TableRetention"/> is a singleton, so an operator tool or a test can run it at once.
    /// </summary>
    public static IServiceCollection AddTableRetention(
        this IServiceCollection services, IConfiguration configuration, Func<IServiceProvider, NpgsqlDataSource> dataSource, IReadOnlyList<RetentionRule> rules)
    {
        var settings = RetentionSettings.Load(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<RetentionMetrics>();
        services.AddSingleton(provider => new TableRetention(
            dataSource(provider), rules, settings, provider.GetRequiredService<RetentionMetrics>(), provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<TableRetention>>()));
        services.AddHostedService(provider => provider.GetRequiredService<TableRetention>());
        return services;
    }
}
