using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Inbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.Messaging.Durability.Tests;

/// <summary>
/// The batched consumer inbox: deliveries in flight at one endpoint share a PostgreSQL transaction, and every message
/// still has its own fate. Consumers record txid_current() with their effect, so a test can see which messages
/// committed in one transaction.
/// </summary>
public sealed class BatchedInboxSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    public async Task InitializeAsync()
    {
        // The host creates the Probe schema; the effects table is this spec's own.
        using (var host = await ProbeHosts.StartServiceAsync(infrastructure))
        {
            await host.StopAsync();
        }

        await ExecuteAsync("""
            CREATE TABLE IF NOT EXISTS batch_effects (message_id uuid NOT NULL, sequence int NOT NULL, txid bigint NOT NULL, note text NOT NULL);
            CREATE SEQUENCE IF NOT EXISTS batch_tripwire;
            """);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_consumer_that_throws_fails_only_its_own_message_and_its_inbox_row_does_not_survive()
    {
        var messages = Messages(40);
        await using var run = await StartAsync<ThrowingOnOddConsumer>("batched-throwing", messages);

        var committed = messages.Where(x => x.Sequence % 2 == 0).ToList();
        var thrown = messages.Where(x => x.Sequence % 2 == 1).ToList();
        await run.WaitForEffectsAsync(committed.Count);
        await Eventually.HoldsAsync(() => Task.FromResult(thrown.All(x => ThrowingOnOddConsumer.Attempts.ContainsKey(x.Id))), Patience, () => "Not every throwing message was consumed");

        Assert.All(committed, x => Assert.Equal(1, run.EffectsOf(x.Id)));
        Assert.All(thrown, x => Assert.Equal(0, run.EffectsOf(x.Id)));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM inbox_state WHERE message_id = ANY(@ids)", thrown.Select(x => x.Id).ToArray()));
        Assert.Equal(committed.Count, await CountAsync("SELECT count(*) FROM inbox_state WHERE message_id = ANY(@ids)", committed.Select(x => x.Id).ToArray()));
        // The proof that isolation happened inside a batch: a thrower ran in the transaction that committed others.
        var committedTransactions = run.Effects.Select(x => x.TxId).ToHashSet();
        Assert.Contains(ThrowingOnOddConsumer.Attempts.Values, committedTransactions.Contains);
    }

    [Fact]
    public async Task A_consumer_cancelled_at_its_first_statement_fails_alone_and_the_consumer_before_it_keeps_its_effect()
    {
        // RabbitMQ dropping the channel cancels every delivery's token at once, so a consumer in the middle of a batch
        // can meet a cancelled token at its very first statement — the one the batch's savepoint for it precedes.
        await using var run = await OnlyTheFailingMessagesLoseTheirEffectAsync<CancelledOnEveryFourthConsumer>(
            "batched-cancelled", CancelledOnEveryFourthConsumer.IsCancelled, CancelledOnEveryFourthConsumer.Attempted);

        Assert.True(run.Effects.GroupBy(x => x.TxId).Any(x => x.Count() > 1), "No two messages committed in one batch.");
    }

    [Fact]
    public async Task A_consumer_that_swallows_a_failed_statement_fails_alone_instead_of_aborting_its_batch() =>
        // PostgreSQL aborts a transaction at a failed statement and answers its COMMIT with a silent ROLLBACK: a consumer
        // that catches such an error and returns would otherwise take every effect of its batch down with it, acked.
        await SwallowingFailsOnlyItsOwnMessageAsync<SwallowingConsumer>("batched-swallowing");

    [Fact]
    public async Task A_consumer_that_swallows_a_failed_statement_on_a_PerMessage_endpoint_is_failed_not_acked() =>
        await SwallowingFailsOnlyItsOwnMessageAsync<SwallowingPerMessageConsumer>("per-message-swallowing");

    [Fact]
    public async Task A_consumer_that_catches_its_own_unique_violation_keeps_working_inside_a_batch()
    {
        // Pairs of messages claim the same sent_log key: the second of each pair meets 23505 and records a rejection.
        var messages = Messages(32).Select(x => x with { Sequence = 1_000_000 + (x.Sequence / 2) }).ToList();
        await using var run = await StartAsync<UniqueClaimConsumer>("batched-unique", messages);

        await run.WaitForEffectsAsync(messages.Count);

        Assert.All(messages, x => Assert.Equal(1, run.EffectsOf(x.Id)));
        Assert.Equal(16, run.Effects.Count(x => x.Note == "claimed"));
        Assert.Equal(16, run.Effects.Count(x => x.Note == "rejected"));
        Assert.True(run.Effects.GroupBy(x => x.TxId).Any(x => x.Count() > 1), "No two messages committed in one batch.");
    }

    [Fact]
    public async Task A_batch_whose_commit_fails_is_replayed_one_message_at_a_time_with_each_effect_once()
    {
        // A deferred constraint trigger fails the first commit that carries an effect; every later one passes.
        await ExecuteAsync("""
            DROP TRIGGER IF EXISTS batch_effects_tripwire ON batch_effects;
            CREATE OR REPLACE FUNCTION batch_effects_tripwire() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.note = 'tripwire' AND nextval('batch_tripwire') = 1 THEN
                    RAISE EXCEPTION 'tripwire: this commit fails once';
                END IF;
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER batch_effects_tripwire AFTER INSERT ON batch_effects
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION batch_effects_tripwire();
            SELECT setval('batch_tripwire', 1, false);
            """);
        var messages = Messages(24);
        await using var run = await StartAsync<TripwireConsumer>("batched-tripwire", messages);

        await run.WaitForEffectsAsync(messages.Count);

        Assert.All(messages, x => Assert.Equal(1, run.EffectsOf(x.Id)));
        Assert.True(await CountAsync("SELECT last_value FROM batch_tripwire") > 1, "The tripwire never fired.");
        Assert.Contains("failed before its commit", run.Logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Duplicates_inside_a_batch_and_against_the_table_have_their_effect_once()
    {
        var messages = Messages(20);
        // Every message three times in one burst: copies meet in one batch's queue and against just-committed rows.
        await using var run = await StartAsync<DuplicateCountingConsumer>("batched-duplicates", [.. messages, .. messages, .. messages]);
        await run.WaitForEffectsAsync(messages.Count);
        // And once more after all committed: every copy meets its row in the table.
        await SendAsync("batched-duplicates", messages);
        await Eventually.HoldsAsync(
            async () => await CountAsync("SELECT coalesce(sum(receive_count), 0)::bigint FROM inbox_state WHERE message_id = ANY(@ids)", [.. messages.Select(x => x.Id)]) >= 4 * messages.Count,
            Patience, () => run.Logs);
        await run.WaitForEffectsAsync(messages.Count);

        Assert.All(messages, x => Assert.Equal(1, run.EffectsOf(x.Id)));
    }

    [Fact]
    public async Task A_lone_message_is_consumed_as_a_batch_of_one_without_waiting_for_others()
    {
        var message = Messages(1);
        await using var run = await StartAsync<LoneConsumer>("batched-lone", message);

        await run.WaitForEffectsAsync(1);

        Assert.Equal([1], run.BatchSizes);
    }

    [Fact]
    public async Task An_endpoint_declaring_PerMessage_commits_every_message_in_its_own_transaction()
    {
        var messages = Messages(30);
        await using var run = await StartAsync<PerMessageConsumer>("per-message", messages);

        await run.WaitForEffectsAsync(messages.Count);

        Assert.Equal(messages.Count, run.Effects.Select(x => x.TxId).Distinct().Count());
        Assert.Empty(run.BatchSizes);
    }

    [Fact]
    public async Task The_same_burst_on_a_batched_endpoint_shares_transactions()
    {
        var messages = Messages(30);
        await using var run = await StartAsync<LoneConsumer>("batched-burst", messages);

        await run.WaitForEffectsAsync(messages.Count);

        Assert.True(run.Effects.Select(x => x.TxId).Distinct().Count() < messages.Count, "Every message had its own transaction.");
        Assert.Contains(run.BatchSizes, size => size > 1);
    }

    private async Task SwallowingFailsOnlyItsOwnMessageAsync<TConsumer>(string queue)
        where TConsumer : SwallowingOnEveryFourthConsumer
    {
        await using var run = await OnlyTheFailingMessagesLoseTheirEffectAsync<TConsumer>(
            queue, SwallowingOnEveryFourthConsumer.Swallows, SwallowingOnEveryFourthConsumer.Attempted);
        var swallowing = run.Ids.Count(id => SwallowingOnEveryFourthConsumer.Attempted.ContainsKey(id));
        // Failed with the reason, not acked: each swallowing message's fault is logged.
        await Eventually.HoldsAsync(
            () => Task.FromResult(run.Logs.Split('\n').Count(x => x.Contains("swallowed", StringComparison.Ordinal)) >= swallowing),
            Patience, () => run.Logs);
    }

    /// <summary>
    /// 40 messages in one burst, of which <paramref name="fails"/> picks those whose consumer fails in its own way
    /// (it records each in <paramref name="attempted"/>): every other one has its effect once; the failing ones have
    /// none, and no inbox row, so their retry or redelivery runs the consumer again.
    /// </summary>
    private async Task<Run> OnlyTheFailingMessagesLoseTheirEffectAsync<TConsumer>(
        string queue, Func<ProbeMessage, bool> fails, ConcurrentDictionary<Guid, bool> attempted)
        where TConsumer : class, IConsumer<ProbeMessage>
    {
        var messages = Messages(40);
        var run = await StartAsync<TConsumer>(queue, messages);
        try
        {
            var committed = messages.Where(x => !fails(x)).ToList();
            var failing = messages.Where(fails).ToList();
            await Eventually.HoldsAsync(
                () => Task.FromResult(failing.All(x => attempted.ContainsKey(x.Id))), Patience, () => "Not every failing message was consumed");
            await run.WaitForEffectsAsync(committed.Count);

            Assert.All(committed, x => Assert.Equal(1, run.EffectsOf(x.Id)));
            Assert.All(failing, x => Assert.Equal(0, run.EffectsOf(x.Id)));
            Assert.Equal(0, await CountAsync("SELECT count(*) FROM inbox_state WHERE message_id = ANY(@ids)", failing.Select(x => x.Id).ToArray()));
            return run;
        }
        catch
        {
            // The caller never gets the run to dispose: stop its host here, or it keeps consuming beside the next spec.
            await run.DisposeAsync();
            throw;
        }
    }

    private static List<ProbeMessage> Messages(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new ProbeMessage(NewId.NextGuid(), i))];

    private async Task<Run> StartAsync<TConsumer>(string queue, IReadOnlyList<ProbeMessage> messages)
        where TConsumer : class, IConsumer<ProbeMessage>
    {
        var logs = new ConcurrentQueue<string>();
        var batchSizes = new ConcurrentQueue<int>();
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == MessagingMetrics.MeterName && instrument.Name == "backbone.inbox.batch_size")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, size, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "consumer_type" && (string?)tag.Value == typeof(TConsumer).Name)
                {
                    batchSizes.Enqueue(size);
                }
            }
        });
        listener.Start();

        // Queue the whole burst before the consumer starts, so the deliveries are in flight together.
        using (var declare = await ProbeHosts.StartServiceAsync(infrastructure, bus =>
            bus.AddConsumer<TConsumer, BatchedProbeDefinition<TConsumer>>().Endpoint(e => e.Name = queue)))
        {
            await declare.StopAsync();
        }

        await SendAsync(queue, messages);

        var host = await ProbeHosts.StartServiceAsync(infrastructure, bus =>
        {
            bus.AddConsumer<TConsumer, BatchedProbeDefinition<TConsumer>>().Endpoint(e => e.Name = queue);
        }, new Dictionary<string, string> { ["Logging:LogLevel:Default"] = "Warning" });
        host.Services.GetRequiredService<ILoggerFactory>().AddProvider(new QueueLoggerProvider(logs));
        return new Run(host, listener, infrastructure.Database("Probe").ConnectionString, messages.Select(x => x.Id).ToHashSet(), batchSizes, logs);
    }

    private async Task SendAsync(string queue, IReadOnlyList<ProbeMessage> messages)
    {
        using var publisher = await ProbeHosts.StartReceiverAsync(infrastructure, new ReceivedMessages(), $"unused-{Guid.NewGuid():N}");
        var endpoint = await publisher.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{queue}"));
        await Task.WhenAll(messages.Select(x => endpoint.Send(x, context => context.MessageId = x.Id)));
        await publisher.StopAsync();
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("Probe").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> CountAsync(string sql, Guid[]? ids = null)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("Probe").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (ids is not null)
        {
            command.Parameters.AddWithValue("ids", ids);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed record Effect(Guid MessageId, long TxId, string Note);

    private sealed class Run(
        IHost host, MeterListener listener, string connectionString, HashSet<Guid> ids, ConcurrentQueue<int> batchSizes, ConcurrentQueue<string> logs)
        : IAsyncDisposable
    {
        public List<Effect> Effects { get; private set; } = [];

        public IReadOnlyCollection<Guid> Ids => ids;

        public int[] BatchSizes => [.. batchSizes];

        public string Logs => string.Join('\n', logs);

        public int EffectsOf(Guid id) => Effects.Count(x => x.MessageId == id);

        public async Task WaitForEffectsAsync(int count)
        {
            await Eventually.HoldsAsync(async () => (await LoadAsync()).Count >= count, Patience, () => $"{Effects.Count} of {count} effects.\n{Logs}");
            // Let anything still in flight land before judging: an extra effect would show up here.
            await Task.Delay(TimeSpan.FromSeconds(1));
            await LoadAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await host.StopAsync();
            host.Dispose();
            listener.Dispose();
        }

        private async Task<List<Effect>> LoadAsync()
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT message_id, txid, note FROM batch_effects WHERE message_id = ANY(@ids)", connection);
            command.Parameters.AddWithValue("ids", ids.ToArray());
            var effects = new List<Effect>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                effects.Add(new Effect(reader.GetGuid(0), reader.GetInt64(1), reader.GetString(2)));
            }

            Effects = effects;
            return effects;
        }
    }
}

/// <summary>Keeps what the host logs, so a spec can show (and check) it.</summary>
internal sealed class QueueLoggerProvider(ConcurrentQueue<string> logs) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new QueueLogger(logs, categoryName);

    public void Dispose()
    {
    }

    private sealed class QueueLogger(ConcurrentQueue<string> logs, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception?.GetType().Name} {exception?.Message}");
    }
}

/// <summary>16 in flight, no retry: what a batch can gather, and a failure goes straight to the error queue.</summary>
public sealed class BatchedProbeDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public BatchedProbeDefinition() => ConcurrentMessageLimit = 16;

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 32;
        endpointConfigurator.UseDurableInbox(typeof(IPerMessageProbe).IsAssignableFrom(typeof(TConsumer)) ? InboxBatching.PerMessage : InboxBatching.Default);
    }
}

public abstract class EffectConsumer(ProbeDbContext db) : IConsumer<ProbeMessage>
{
    protected ProbeDbContext Db => db;

    public virtual async Task Consume(ConsumeContext<ProbeMessage> context) => await RecordAsync(context, "effect");

    /// <summary>The effect, with the transaction it ran in; returns that transaction's id.</summary>
    protected async Task<long> RecordAsync(ConsumeContext<ProbeMessage> context, string note)
    {
        var txid = await db.Database.SqlQuery<long>($"SELECT txid_current() AS \"Value\"").SingleAsync(context.CancellationToken);
        await db.Database.ExecuteSqlAsync(
            $"INSERT INTO batch_effects (message_id, sequence, txid, note) VALUES ({context.Message.Id}, {context.Message.Sequence}, {txid}, {note})",
            context.CancellationToken);
        return txid;
    }
}

public sealed class LoneConsumer(ProbeDbContext db) : EffectConsumer(db);

public sealed class PerMessageConsumer(ProbeDbContext db) : EffectConsumer(db), IPerMessageProbe;

/// <summary>A probe consumer whose endpoint declares <see cref="InboxBatching.PerMessage"/>.</summary>
public interface IPerMessageProbe;

public sealed class DuplicateCountingConsumer(ProbeDbContext db) : EffectConsumer(db);

public sealed class TripwireConsumer(ProbeDbContext db) : EffectConsumer(db)
{
    public override async Task Consume(ConsumeContext<ProbeMessage> context) => await RecordAsync(context, "tripwire");
}

/// <summary>Writes its effect, then throws for odd sequence numbers: that effect must roll back, the others commit.</summary>
public sealed class ThrowingOnOddConsumer(ProbeDbContext db) : EffectConsumer(db)
{
    public static ConcurrentDictionary<Guid, long> Attempts { get; } = new();

    public override async Task Consume(ConsumeContext<ProbeMessage> context)
    {
        var txid = await RecordAsync(context, "effect");
        if (context.Message.Sequence % 2 == 1)
        {
            Attempts[context.Message.Id] = txid;
            throw new InvalidOperationException($"Message {context.Message.Sequence} fails on purpose.");
        }
    }
}

/// <summary>
/// Every fourth message meets a cancelled token at its first statement, as a delivery does whose channel RabbitMQ
/// closed mid-batch; the others record their effect.
/// </summary>
public sealed class CancelledOnEveryFourthConsumer(ProbeDbContext db) : EffectConsumer(db)
{
    public static ConcurrentDictionary<Guid, bool> Attempted { get; } = new();

    public static bool IsCancelled(ProbeMessage message) => message.Sequence % 4 == 3;

    public override async Task Consume(ConsumeContext<ProbeMessage> context)
    {
        if (!IsCancelled(context.Message))
        {
            await RecordAsync(context, "effect");
            return;
        }

        Attempted[context.Message.Id] = true;
        await Db.Database.ExecuteSqlAsync(
            $"INSERT INTO batch_effects (message_id, sequence, txid, note) VALUES ({context.Message.Id}, {context.Message.Sequence}, 0, 'cancelled')",
            new CancellationToken(canceled: true));
    }
}

/// <summary>Every fourth message records its effect, then catches the failure of a statement of its own and returns.</summary>
public abstract class SwallowingOnEveryFourthConsumer(ProbeDbContext db) : EffectConsumer(db)
{
    public static ConcurrentDictionary<Guid, bool> Attempted { get; } = new();

    public static bool Swallows(ProbeMessage message) => message.Sequence % 4 == 1;

    public override async Task Consume(ConsumeContext<ProbeMessage> context)
    {
        if (Swallows(context.Message))
        {
            Attempted[context.Message.Id] = true;
        }

        await RecordAsync(context, "effect");
        if (!Swallows(context.Message))
        {
            return;
        }

        try
        {
            await Db.Database.ExecuteSqlAsync($"SELECT 1 / 0", context.CancellationToken);
        }
        catch (PostgresException)
        {
            // Wrong on purpose: the statement aborted the transaction, and returning does not tell anyone.
        }
    }
}

public sealed class SwallowingConsumer(ProbeDbContext db) : SwallowingOnEveryFourthConsumer(db);

public sealed class SwallowingPerMessageConsumer(ProbeDbContext db) : SwallowingOnEveryFourthConsumer(db), IPerMessageProbe;

/// <summary>Like CreateUserAccountConsumer: a taken key is an answer, caught from SaveChanges, not a failure.</summary>
public sealed class UniqueClaimConsumer(ProbeDbContext db) : EffectConsumer(db)
{
    public override async Task Consume(ConsumeContext<ProbeMessage> context)
    {
        Db.SentLog.Add(new SentRecord { Sequence = context.Message.Sequence, MessageId = context.Message.Id });
        try
        {
            await Db.SaveChangesAsync(context.CancellationToken);
            await RecordAsync(context, "claimed");
        }
        catch (DbUpdateException taken) when (taken.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            Db.ChangeTracker.Clear();
            await RecordAsync(context, "rejected");
        }
    }
}
