using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace EventBackbone.Bench.Harness;

/// <summary>What the inbox growth check measured; its losses and duplicates fail the run like any phase's.</summary>
public sealed record InboxGrowthOutcome(int Lost, int Duplicates);

/// <summary>
/// Cost as the tables grow (bench/README, "Cost as the tables grow"): eventbackbone-durable's throughput with a full
/// duplicate-detection window in its inbox ÷ its throughput on an empty inbox, in the same run; then whether the
/// inbox cleanup deletes expired rows at least as fast as the pipeline inserts them at its peak. Throughput phases
/// only (closed loop, the run's highest in-flight level); the contender is the one the rounds already ran.
/// </summary>
public sealed class InboxGrowthCheck(BenchOptions options, TextWriter output)
{
    /// <summary>
    /// Rows per INSERT of the prefill: each chunk is one statement and one transaction, so a 10-million-row fill
    /// neither holds one transaction's WAL and locks for minutes nor pays a round trip per row.
    /// </summary>
    private const int PrefillChunk = 1_000_000;

    private int _lost;
    private int _duplicates;

    /// <param name="services">The contender's host: its configuration (window, connection string) and its cleanup service.</param>
    public async Task<InboxGrowthOutcome> RunAsync(
        IContender contender, ArrivalRouter router, IServiceProvider services, CancellationToken cancellationToken)
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        var window = TimeSpan.Parse(
            configuration["Backbone:Messaging:DuplicateDetectionWindow"] ?? "1.00:00:00", CultureInfo.InvariantCulture);
        await using var database = NpgsqlDataSource.Create(
            configuration.GetConnectionString("Bench") ?? throw new InvalidOperationException("The contender has no Bench connection string."));
        var level = options.InFlightLevels.Max();
        var driver = new PhaseDriver(router);

        output.WriteLine();
        output.WriteLine($"=== cost as the tables grow: {contender.Name}, {level} in flight, {options.Messages} messages × "
            + $"{options.Rounds} throughput round(s) on each table state; duplicate-detection window {window}; load average {LoadAverage()}");

        // The rounds left their rows; the one consumer id they used is the realistic key for the filled rows.
        var consumerId = await ScalarAsync<Guid?>(database, "SELECT consumer_id FROM inbox_state LIMIT 1", cancellationToken)
            ?? throw new InvalidOperationException("inbox_state is empty: the rounds before the growth check consumed nothing.");
        await ExecuteAsync(database, "TRUNCATE inbox_state", cancellationToken);
        await ExecuteAsync(database, "TRUNCATE effects", cancellationToken);
        await ExecuteAsync(database, "VACUUM (ANALYZE) inbox_state", cancellationToken);
        var empty = await ThroughputRoundsAsync(driver, contender, level, "empty inbox", cancellationToken);

        // Inside the window: received spread over 95 % of it, so none expires while the check runs.
        var fill = await PrefillAsync(
            database, consumerId, options.PrefilledRows,
            "now() - random() * $2::interval", window * 0.95, cancellationToken);
        output.WriteLine($"prefill: {options.PrefilledRows:N0} rows inside the window, {fill}; "
            + $"inbox_state now {await TableSizeAsync(database, cancellationToken)}");
        var full = await ThroughputRoundsAsync(driver, contender, level, "full inbox", cancellationToken);

        var emptyMedian = Statistics.Median(empty);
        var fullMedian = Statistics.Median(full);
        output.WriteLine();
        output.WriteLine($"| figure ({level} in flight) | empty inbox | {options.PrefilledRows:N0} rows in the window | full ÷ empty |");
        output.WriteLine("|---|---:|---:|---:|");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {contender.Name} throughput msg/s, median of {empty.Count} (min–max) | {emptyMedian:F0} ({empty.Min():F0}–{empty.Max():F0}) | "
            + $"{fullMedian:F0} ({full.Min():F0}–{full.Max():F0}) | **{fullMedian / emptyMedian:F2}×** |"));

        await MeasureCleanupAsync(database, driver, contender, services, consumerId, window, level, cancellationToken);
        return new InboxGrowthOutcome(_lost, _duplicates);
    }

    /// <summary>
    /// Rows already outside the window, then one throughput phase at the peak level with the inbox cleanup deleting
    /// them meanwhile: rows it deleted per second against inbox rows the pipeline inserted per second.
    /// </summary>
    private async Task MeasureCleanupAsync(
        NpgsqlDataSource database, PhaseDriver driver, IContender contender, IServiceProvider services,
        Guid consumerId, TimeSpan window, int level, CancellationToken cancellationToken)
    {
        var fill = await PrefillAsync(
            database, consumerId, options.ExpiredRows,
            "now() - $2::interval - random() * interval '1 hour'", window + TimeSpan.FromMinutes(1), cancellationToken);
        output.WriteLine();
        output.WriteLine($"cleanup: {options.ExpiredRows:N0} rows outside the window, {fill}");

        var removeExpired = CleanupOperation(services);
        const string expiredCount = "SELECT count(*) FROM inbox_state WHERE received < now() - $1";
        var expiredBefore = await ScalarAsync<long>(database, expiredCount, cancellationToken, window);
        var phaseStart = await ScalarAsync<DateTime>(database, "SELECT clock_timestamp()", cancellationToken);

        using var stopCleanup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clock = Stopwatch.StartNew();
        TimeSpan? cleanupDone = null;
        var cleanup = Task.Run(
            async () =>
            {
                await removeExpired(stopCleanup.Token);
                cleanupDone = clock.Elapsed;
            },
            CancellationToken.None);
        GC.Collect();
        var phase = await driver.RunAsync(contender, options.Messages, level, ratePerSecond: null, cancellationToken);
        var phaseElapsed = clock.Elapsed;
        Count(phase);
        await stopCleanup.CancelAsync();
        try
        {
            await cleanup;
        }
        catch (Exception stopped) when (stopped is OperationCanceledException || stopped.InnerException is OperationCanceledException)
        {
            // Still deleting when the pipeline stopped: its rate is taken over the phase, during which it ran throughout.
        }

        var expiredAfter = await ScalarAsync<long>(database, expiredCount, cancellationToken, window);
        var inserted = await ScalarAsync<long>(
            database, "SELECT count(*) FROM inbox_state WHERE received >= $1", cancellationToken, phaseStart);
        // RemoveExpiredAsync returns at its first short batch: the backlog is gone, or the hosted service's own timed
        // run took the same rows (seen: 124 000 of 499 000 deleted, then a return after 1.8 s). With rows left, the
        // rate over the whole phase is the honest lower bound.
        var cleanupSeconds = (cleanupDone is not null && expiredAfter == 0 ? cleanupDone.Value : phaseElapsed).TotalSeconds;
        var deletedPerSecond = (expiredBefore - expiredAfter) / cleanupSeconds;
        var insertedPerSecond = inserted / phaseElapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pipeline {phase.ThroughputPerSecond:F0} msg/s with the cleanup running; cleanup {(cleanupDone is null ? "still deleting when the phase ended" : $"returned after {cleanupDone.Value.TotalSeconds:F1} s")}, rate taken "
            + $"over {cleanupSeconds:F1} s, {expiredBefore - expiredAfter:N0} of {expiredBefore:N0} expired rows deleted"));
        if (cleanupDone is not null)
        {
            output.WriteLine("  (the cleanup returned before the phase ended: deleted/s is a lower bound; raise --expired-rows if the backlog ran out)");
        }

        output.WriteLine();
        output.WriteLine($"| inbox rows ({level} in flight, cleanup as deployed: one DELETE of CleanupBatchSize rows after another) | per second |");
        output.WriteLine("|---|---:|");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| inserted by the pipeline at its peak ({inserted:N0} in {phaseElapsed.TotalSeconds:F1} s) | {insertedPerSecond:F0} |"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| deleted by the inbox cleanup meanwhile | {deletedPerSecond:F0} |"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| deleted ÷ inserted | **{deletedPerSecond / insertedPerSecond:F2}×** |"));
    }

    /// <summary>
    /// The host's own inbox cleanup, as it runs when it finds a backlog: <c>RemoveExpiredAsync</c> deletes batch after
    /// batch until fewer than a batch are left. Found by name and called through reflection so the bench measures the
    /// service the host registered, whatever its visibility in the library's surface.
    /// </summary>
    private static Func<CancellationToken, Task> CleanupOperation(IServiceProvider services)
    {
        var service = services.GetServices<IHostedService>()
            .SingleOrDefault(s => s.GetType().Name.StartsWith("InboxCleanupService", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("The contender's host runs no inbox cleanup service.");
        var method = service.GetType().GetMethod("RemoveExpiredAsync", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, [typeof(CancellationToken)])
            ?? throw new InvalidOperationException($"{service.GetType().Name} has no RemoveExpiredAsync(CancellationToken).");
        return token => (Task)method.Invoke(service, [token])!;
    }

    private async Task<List<double>> ThroughputRoundsAsync(
        PhaseDriver driver, IContender contender, int level, string label, CancellationToken cancellationToken)
    {
        var rates = new List<double>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var outcome = await driver.RunAsync(contender, options.Messages, level, ratePerSecond: null, cancellationToken);
            Count(outcome);
            // InvariantGlobalization is on for every project, so interpolation formats numbers the same everywhere.
            output.WriteLine(
                $"{label,-12} round {round}  {outcome.ThroughputPerSecond,7:F0} msg/s"
                + (outcome.Lost + outcome.Duplicates > 0 ? $"   LOST {outcome.Lost} DUPLICATED {outcome.Duplicates}" : string.Empty));
            if (double.IsFinite(outcome.ThroughputPerSecond))
            {
                rates.Add(outcome.ThroughputPerSecond);
            }
        }

        return rates.Count > 0 ? rates : [double.NaN];
    }

    private void Count(PhaseOutcome outcome)
    {
        _lost += outcome.Lost;
        _duplicates += outcome.Duplicates;
    }

    /// <summary>
    /// Rows as the inbox writes them (random message ids, one consumer, received = consumed = delivered), in chunks,
    /// then VACUUM (ANALYZE) — the planner's statistics, and no autovacuum of a 10-million-row insert landing in the
    /// measurement — and a CHECKPOINT, so the fill's dirty pages are not written out during the measurement either.
    /// </summary>
    private static async Task<string> PrefillAsync(
        NpgsqlDataSource database, Guid consumerId, long rows, string receivedSql, TimeSpan age, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        for (long done = 0; done < rows; done += PrefillChunk)
        {
            await using var insert = database.CreateCommand($"""
                INSERT INTO inbox_state (message_id, consumer_id, received, receive_count, consumed, delivered)
                SELECT gen_random_uuid(), $1, t, 1, t, t FROM (SELECT {receivedSql} AS t FROM generate_series(1, $3)) filled
                """);
            insert.CommandTimeout = 0;
            insert.Parameters.Add(new NpgsqlParameter { Value = consumerId });
            insert.Parameters.Add(new NpgsqlParameter { Value = age });
            insert.Parameters.Add(new NpgsqlParameter { Value = (int)Math.Min(PrefillChunk, rows - done) });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        var inserted = clock.Elapsed;
        await ExecuteAsync(database, "VACUUM (ANALYZE) inbox_state", cancellationToken);
        var vacuumed = clock.Elapsed;
        string checkpoint;
        try
        {
            await ExecuteAsync(database, "CHECKPOINT", cancellationToken);
            checkpoint = $"CHECKPOINT {(clock.Elapsed - vacuumed).TotalSeconds:F1} s";
        }
        catch (PostgresException denied) when (denied.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            checkpoint = "no CHECKPOINT (not allowed for this role)";
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"prefill took {clock.Elapsed.TotalSeconds:F1} s (INSERT {inserted.TotalSeconds:F1} s, VACUUM (ANALYZE) {(vacuumed - inserted).TotalSeconds:F1} s, {checkpoint})");
    }

    private static async Task<string> TableSizeAsync(NpgsqlDataSource database, CancellationToken cancellationToken) =>
        await ScalarAsync<string>(database, "SELECT pg_size_pretty(pg_total_relation_size('inbox_state'))", cancellationToken) ?? "?";

    private static async Task ExecuteAsync(NpgsqlDataSource database, string sql, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(sql);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T?> ScalarAsync<T>(NpgsqlDataSource database, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = database.CreateCommand(sql);
        command.CommandTimeout = 0;
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? default : (T)value;
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
