using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using EventBackbone.Bench.Contenders;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace EventBackbone.Bench.Harness;

/// <summary>
/// What the inbox growth check measured; its losses and duplicates fail the run like any phase's. A redelivered copy
/// the inbox let through counts as a duplicate (reported twice, or its consumer ran again and faulted on the effect's
/// key); a copy never seen counts as lost.
/// </summary>
public sealed record InboxGrowthOutcome(int Lost, int Duplicates);

/// <summary>
/// Cost as the tables grow (bench/README, "Cost as the tables grow"): eventbackbone-durable's throughput with a full
/// duplicate-detection window in its inbox ÷ its throughput on an empty inbox, in the same run; then whether the
/// inbox cleanup deletes expired rows at least as fast as the pipeline inserts them at its peak. Throughput phases
/// only (closed loop, the run's highest in-flight level); the contender is the one the rounds already ran. With the
/// inbox full, redelivered copies of consumed messages check that the window still deduplicates.
/// </summary>
public sealed class InboxGrowthCheck(BenchOptions options, TextWriter output)
{
    /// <summary>
    /// Rows per INSERT of the prefill: each chunk is one statement and one transaction, so a 10-million-row fill
    /// neither holds one transaction's WAL and locks for minutes nor pays a round trip per row.
    /// </summary>
    private const int PrefillChunk = 1_000_000;

    /// <summary>At most this many messages are consumed and then delivered again with the inbox full.</summary>
    private const int RedeliveredCopies = 1_000;

    private int _lost;
    private int _duplicates;

    /// <param name="contender">Started with <see cref="EventBackboneDurableContender.TimedInboxCleanupPaused"/>.</param>
    public async Task<InboxGrowthOutcome> RunAsync(
        EventBackboneDurableContender contender, ArrivalRouter router, CancellationToken cancellationToken)
    {
        var services = contender.Services;
        var configuration = services.GetRequiredService<IConfiguration>();
        var interval = TimeSpan.Parse(
            configuration[EventBackboneDurableContender.TimedCleanupIntervalKey] ?? "00:01:00", CultureInfo.InvariantCulture);
        if (interval < EventBackboneDurableContender.PausedCleanupInterval)
        {
            throw new InvalidOperationException(
                $"The host's timed inbox cleanup runs every {interval}: it would delete the expired rows this check plants "
                + "before they are measured, or race the measured cleanup for them. Start the contender with TimedInboxCleanupPaused.");
        }

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
        await RedeliverCopiesAsync(contender, router, level, cancellationToken);

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
    /// Messages consumed with the window full, then each delivered again with the same MessageId, as a broker
    /// redelivery (a lost ack, a consumer restart) carries it. Every copy must come back as a receive the inbox
    /// skipped; one whose effect is reported again, or whose consumer ran again and faulted on the effect's key, is a
    /// duplicate, and one never seen is counted as lost, since nothing shows that it was deduplicated.
    /// </summary>
    private async Task RedeliverCopiesAsync(
        EventBackboneDurableContender contender, ArrivalRouter router, int level, CancellationToken cancellationToken)
    {
        var count = Math.Min(options.Messages, RedeliveredCopies);
        var log = router.Open(count);
        var originals = Enumerable.Range(0, count)
            .Select(sequence => new BenchMessage(Guid.NewGuid(), log.PhaseId, sequence, Stopwatch.GetTimestamp()))
            .ToList();
        await PublishAllAsync(contender, originals, level, cancellationToken);
        await WaitForProgressAsync(() => log.Unique, count, cancellationToken);
        if (log.Unique < count)
        {
            router.Close();
            _lost += count - log.Unique;
            output.WriteLine($"redelivery: {count - log.Unique} of {count} originals never arrived; no copies sent");
            return;
        }

        var skippedBefore = contender.Receives.Skipped;
        var faultedBefore = contender.Receives.Faulted;
        int Skipped() => contender.Receives.Skipped - skippedBefore;
        int Faulted() => contender.Receives.Faulted - faultedBefore;
        await PublishAllAsync(contender, originals, level, cancellationToken);
        await WaitForProgressAsync(() => Skipped() + Faulted() + log.Duplicates, count, cancellationToken);
        // A copy counted on the way out would otherwise slip past as an unseen one.
        await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken);
        router.Close();

        // Every copy the inbox did not skip is a failure. Faulted receives can outnumber the copies (a failed shared
        // inbox batch faults, or replays, deliveries beside the copy), so the copies, not the receives, are counted.
        var deduplicated = Skipped();
        var unseen = Math.Max(0, count - deduplicated - Faulted() - log.Duplicates);
        _duplicates += Math.Max(0, count - deduplicated - unseen);
        _lost += unseen;
        output.WriteLine($"redelivery with the inbox full: {count} consumed messages delivered again with the same MessageId: "
            + $"{deduplicated} deduplicated by the inbox, {log.Duplicates} effects reported twice, {Faulted()} faulted receives "
            + $"(the consumer ran again), {unseen} never seen"
            + (deduplicated < count ? "   INBOX DID NOT DEDUPLICATE" : string.Empty));
    }

    private static async Task PublishAllAsync(
        IContender contender, IReadOnlyList<BenchMessage> messages, int level, CancellationToken cancellationToken)
    {
        using var inFlight = new SemaphoreSlim(level);
        await Task.WhenAll(messages.Select(async message =>
        {
            await inFlight.WaitAsync(cancellationToken);
            try
            {
                await contender.PublishAsync(message, cancellationToken);
            }
            finally
            {
                inFlight.Release();
            }
        }));
    }

    /// <summary>Until <paramref name="progress"/> reaches the target or stops moving for a phase's stall timeout.</summary>
    private static async Task WaitForProgressAsync(Func<int> progress, int target, CancellationToken cancellationToken)
    {
        var seen = -1;
        var lastProgress = Stopwatch.GetTimestamp();
        while (progress() is var now && now < target)
        {
            if (now != seen)
            {
                seen = now;
                lastProgress = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) > PhaseDriver.StallTimeout)
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }
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
        if (expiredBefore != options.ExpiredRows)
        {
            // Fewer: something deleted planted rows (the host's timed cleanup, another session), so the measured run
            // would start on a smaller backlog and could run out early; more: the count is not the planted backlog.
            throw new InvalidOperationException(
                $"The expired backlog is not intact when the cleanup phase starts: {expiredBefore:N0} rows outside the window, "
                + $"{options.ExpiredRows:N0} planted.");
        }

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
        // RemoveExpiredAsync returns at its first short batch. With the backlog gone, its rate is taken over its own
        // run: measured, not a bound. With rows left, another deleter took rows under it (seen before the timed run
        // was paused: 124 000 of 499 000 deleted, then a return after 1.8 s), and only the rate over the whole phase,
        // part of which it sat idle, is honest — as a lower bound.
        var ranOut = cleanupDone is not null && expiredAfter == 0;
        var cleanupSeconds = (ranOut ? cleanupDone!.Value : phaseElapsed).TotalSeconds;
        var deletedPerSecond = (expiredBefore - expiredAfter) / cleanupSeconds;
        var insertedPerSecond = inserted / phaseElapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pipeline {phase.ThroughputPerSecond:F0} msg/s with the cleanup running; cleanup {(cleanupDone is null ? "still deleting when the phase ended" : $"returned after {cleanupDone.Value.TotalSeconds:F1} s")}, rate taken "
            + $"over {cleanupSeconds:F1} s, {expiredBefore - expiredAfter:N0} of {expiredBefore:N0} expired rows deleted"));
        if (ranOut)
        {
            output.WriteLine("  (the backlog ran out before the phase ended: deleted/s is over the cleanup's own run, which competed with the "
                + "pipeline for only part of the phase; raise --expired-rows to measure it over the whole phase)");
        }
        else if (cleanupDone is not null)
        {
            output.WriteLine($"  (the cleanup returned with {expiredAfter:N0} expired rows left, so something else deleted rows under it: "
                + "deleted/s over the whole phase is a lower bound)");
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
