using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;
using Npgsql;

namespace EventBackbone.Reliability.Tests;

/// <summary>
/// One scenario's exact accounting, counted in the services' own databases, at the provider stub and on the broker.
/// <para>
/// <b>Lost</b>: a request answered 2xx whose effect is missing (webhook not stored or not counted; signup without its
/// account, its terminal state or one of its two notifications), or a poison message not in the dead-letter store.
/// <b>Duplicate effects</b>: an effect that happened more than once (a webhook counted twice in the volume report, two
/// accounts or two notifications of one template for one signup, a duplicate delivery given a new event id).
/// <b>Leaked</b>: a request answered 4xx (or never answered) that nevertheless left an effect.
/// <b>Stuck</b>: work still in an outbox table or a queue when the drain time is over.
/// </para>
/// </summary>
public sealed record Accounting(
    string Scenario,
    int Sent,
    int Accepted,
    int Rejected,
    int Unanswered,
    int Retried,
    int Processed,
    int DuplicatesSuppressed,
    int PoisonSent,
    int DeadLettered,
    int NotificationsFailedForGood,
    int Lost,
    int DuplicateEffects,
    int Leaked,
    int Stuck,
    int ValidRefused,
    int EarlyTimeouts,
    string Breakdown,
    IReadOnlyList<string> Problems)
{
    public const string Header =
        "| scenario | sent | accepted | rejected | unanswered | retried | processed | duplicates suppressed | poison sent | dead-lettered | notifications failed for good | lost | duplicate effects | leaked | stuck |\n"
        + "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    private static readonly string[] TerminalStates = ["Expired", "Completed", "Rejected"];

    public bool Clean => Lost == 0 && DuplicateEffects == 0 && Leaked == 0 && Stuck == 0 && Unanswered == 0 && ValidRefused == 0 && EarlyTimeouts == 0;

    public string Row =>
        $"| {Scenario} | {Sent} | {Accepted} | {Rejected} | {Unanswered} | {Retried} | {Processed} | {DuplicatesSuppressed} | {PoisonSent} | "
        + $"{DeadLettered} | {NotificationsFailedForGood} | {Lost} | {DuplicateEffects} | {Leaked} | {Stuck} |";

    public override string ToString() => $"{Header}\n{Row}\n{Breakdown}\n{string.Join('\n', Problems.Take(30))}";

    /// <summary>Waits (up to <paramref name="drainTime"/>) until every accepted request has its effect and nothing is left in flight, then counts.</summary>
    public static async Task<Accounting> AfterDrainAsync(
        string scenario, ReliabilityTopology topology, LoadGenerator load, PoisonInjector poison, TimeSpan drainTime)
    {
        var deadline = DateTime.UtcNow + drainTime;
        Accounting last;
        while (true)
        {
            last = await CountWithRetryAsync(scenario, topology, load, poison);
            if ((last.Lost == 0 && last.Stuck == 0) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }

        // The management API's queue figures lag by up to 5 s: count again once they have caught up, so a queue that
        // still held work a moment ago is not reported empty — and, until the drain time is over, so that work still
        // moving a moment ago (a reminder, its notification) is not reported stuck from a stale figure either.
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(6));
            last = await CountWithRetryAsync(scenario, topology, load, poison);
            if ((last.Lost == 0 && last.Stuck == 0) || DateTime.UtcNow > deadline)
            {
                return last;
            }
        }
    }

    /// <summary>The counting connections of this test went through the database restart too: a dead pooled one is dropped and the count taken again.</summary>
    private static async Task<Accounting> CountWithRetryAsync(string scenario, ReliabilityTopology topology, LoadGenerator load, PoisonInjector poison)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await CountAsync(scenario, topology, load, poison);
            }
            catch (NpgsqlException broken) when (attempt < 5 && (broken.IsTransient || broken is PostgresException { SqlState: "57P01" or "53300" }))
            {
                NpgsqlConnection.ClearAllPools();
                await Task.Delay(1000);
            }
        }
    }

    private static async Task<Accounting> CountAsync(string scenario, ReliabilityTopology topology, LoadGenerator load, PoisonInjector poison)
    {
        var problems = new List<string>();
        var requests = load.Requests.ToList();
        int lost = 0, duplicates = 0, leaked = 0, suppressed = 0, processed = 0;

        // ---- webhooks: stored once (inbound_webhooks, keyed by event id) and counted once (the volume report's counter).
        var webhooks = requests.Where(r => r.Kind == RequestKind.Webhook && r.Accepted).ToList();
        var acceptedEventIds = webhooks.Select(r => r.Id!.Value).ToHashSet();
        if (acceptedEventIds.Count != webhooks.Count)
        {
            duplicates += webhooks.Count - acceptedEventIds.Count;
            problems.Add($"{webhooks.Count - acceptedEventIds.Count} distinct deliveries were given the same event id");
        }

        suppressed += webhooks.Count(r => r.Status == HttpStatusCode.OK);
        foreach (var duplicate in requests.Where(r => r.Kind == RequestKind.DuplicateWebhook))
        {
            if (duplicate.Status == HttpStatusCode.OK && duplicate.Id == duplicate.OriginalEventId)
            {
                suppressed++;
            }
            else if (duplicate.Accepted)
            {
                duplicates++;
                problems.Add($"duplicate delivery {duplicate.Key} answered {(int)duplicate.Status!} with event {duplicate.Id}, original {duplicate.OriginalEventId}");
            }
        }

        var workers = topology.Database("Workers").ConnectionString;
        var stored = await ColumnAsync<Guid>(workers, "SELECT event_id FROM inbound_webhooks WHERE event_type = @type", ("type", load.EventType));
        var counted = await ScalarAsync(workers, "SELECT coalesce(sum(count), 0) FROM report_webhooks_hourly WHERE source = 'github' AND event_type = @type", ("type", load.EventType));
        var missing = acceptedEventIds.Except(stored).ToList();
        lost += missing.Count;
        problems.AddRange(missing.Take(10).Select(id => $"accepted webhook {id} was never stored by Workers"));
        var unexpected = stored.Except(acceptedEventIds).ToList();
        leaked += unexpected.Count;
        problems.AddRange(unexpected.Take(10).Select(id => $"webhook {id} was stored although no request was answered 2xx with it"));
        if (counted > stored.Count)
        {
            duplicates += (int)counted - stored.Count;
            problems.Add($"the volume report counted {counted} webhooks for {stored.Count} stored: counted twice");
        }
        else if (counted < stored.Count)
        {
            lost += stored.Count - (int)counted;
            problems.Add($"the volume report counted {counted} webhooks for {stored.Count} stored: some never counted");
        }

        processed += acceptedEventIds.Intersect(stored).Count();

        // ---- forged webhooks: refused, and no receipt of theirs in the ingestion database.
        var forged = requests.Where(r => r.Kind == RequestKind.ForgedWebhook).ToList();
        foreach (var wrong in forged.Where(r => r.Status is not null && r.Status != HttpStatusCode.Unauthorized))
        {
            leaked += wrong.Accepted ? 1 : 0;
            problems.Add($"forged webhook {wrong.Key} answered {(int)wrong.Status!}");
        }

        var forgedReceipts = await ScalarAsync(
            topology.Database("Ingestion").ConnectionString,
            "SELECT count(*) FROM webhook_receipts WHERE dedupe_key = ANY(@keys)",
            ("keys", forged.Select(r => r.Key).ToArray()));
        leaked += (int)forgedReceipts;
        if (forgedReceipts > 0)
        {
            problems.Add($"{forgedReceipts} forged webhook(s) have a receipt in the ingestion database");
        }

        // ---- signups: one account, a terminal state, and exactly one welcome and one reminder at the provider.
        var signups = requests.Where(r => r.Kind == RequestKind.Signup && r.Accepted).ToList();
        var signupIds = signups.Select(r => r.Id!.Value).ToArray();
        var states = (await RowsAsync(
                topology.Database("Sagas").ConnectionString,
                "SELECT correlation_id, current_state FROM signup_states WHERE correlation_id = ANY(@ids)",
                reader => (reader.GetGuid(0), reader.GetString(1)),
                ("ids", signupIds)))
            .ToDictionary(x => x.Item1, x => x.Item2);
        // The reminder schedules the second timeout afresh: an expiry sooner than one timeout after it fired early
        // (as it did, in the same instant, before the state machine decided both cases in one binding).
        var early = await RowsAsync(
            topology.Database("Sagas").ConnectionString,
            """
            SELECT correlation_id, extract(epoch FROM
                max((h->>'at')::timestamptz) FILTER (WHERE h->>'what' LIKE 'Not verified after the reminder%')
              - max((h->>'at')::timestamptz) FILTER (WHERE h->>'what' LIKE 'Not verified in time%'))::float8
            FROM signup_states, jsonb_array_elements(history::jsonb) h
            WHERE correlation_id = ANY(@ids)
            GROUP BY correlation_id
            """,
            reader => (Id: reader.GetGuid(0), Gap: reader.IsDBNull(1) ? (double?)null : reader.GetDouble(1)),
            ("ids", signupIds));
        var earlyTimeouts = early.Where(x => x.Gap < (ReliabilityTopology.VerificationTimeout - TimeSpan.FromMilliseconds(100)).TotalSeconds).ToList();
        problems.AddRange(earlyTimeouts.Take(10).Select(x => $"signup {x.Id} expired {x.Gap:F3} s after its reminder (timeout {ReliabilityTopology.VerificationTimeout.TotalSeconds} s)"));
        var accounts = (await RowsAsync(
                workers,
                "SELECT signup_id, count(*) FROM user_accounts WHERE signup_id = ANY(@ids) GROUP BY signup_id",
                reader => (reader.GetGuid(0), reader.GetInt64(1)),
                ("ids", signupIds)))
            .ToDictionary(x => x.Item1, x => x.Item2);
        var failedForGood = (await RowsAsync(
                workers,
                "SELECT correlation_id, template FROM notifications WHERE status = 'failed' AND correlation_id = ANY(@ids)",
                reader => (reader.GetGuid(0), reader.GetString(1)),
                ("ids", signupIds)))
            .ToHashSet();
        var delivered = await DeliveredAsync(topology);
        foreach (var signup in signups)
        {
            var id = signup.Id!.Value;
            var complete = true;
            if (!states.TryGetValue(id, out var state) || !TerminalStates.Contains(state))
            {
                complete = false;
                lost++;
                problems.Add($"signup {id} is {(state is null ? "missing from the saga table" : $"still {state}")}");
            }

            var accountCount = accounts.GetValueOrDefault(id);
            if (accountCount != 1)
            {
                complete = false;
                (lost, duplicates) = accountCount == 0 ? (lost + 1, duplicates) : (lost, duplicates + (int)accountCount - 1);
                problems.Add($"signup {id} has {accountCount} user accounts");
            }

            foreach (var template in new[] { "welcome", "verification-reminder" })
            {
                var sent = delivered.GetValueOrDefault((signup.Email!, template));
                var failed = failedForGood.Contains((id, template));
                if (sent > 1)
                {
                    duplicates += sent - 1;
                    problems.Add($"signup {id}: '{template}' reached the provider {sent} times");
                }
                else if (sent == 0 && !failed)
                {
                    complete = false;
                    lost++;
                    problems.Add($"signup {id}: '{template}' never reached the provider and was not recorded as failed");
                }
            }

            processed += complete ? 1 : 0;
        }

        // ---- poison: every one in the dead-letter store.
        var poisonIds = poison.Sent.ToArray();
        var deadLettered = (int)await ScalarAsync(
            topology.Database("DeadLetters").ConnectionString,
            "SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids)",
            ("ids", poisonIds));
        if (deadLettered < poisonIds.Length)
        {
            lost += poisonIds.Length - deadLettered;
            problems.Add($"{poisonIds.Length - deadLettered} of {poisonIds.Length} poison messages are not in the dead-letter store");
        }

        // ---- a message of the load itself in the dead-letter store means a transient fault was treated as final (the
        // store is shared by every scenario, so poison is told apart by every id any scenario injected).
        var unexpectedDeadLetters = await RowsAsync(
            topology.Database("DeadLetters").ConnectionString,
            "SELECT source_queue, coalesce(exception_type, reason), left(coalesce(exception_message, ''), 300) FROM dead_letters WHERE NOT (message_id = ANY(@ids))",
            reader => $"{reader.GetString(0)}: {reader.GetString(1)}: {reader.GetString(2)}",
            ("ids", topology.InjectedPoison.ToArray()));
        if (unexpectedDeadLetters.Count > 0)
        {
            problems.Add($"{unexpectedDeadLetters.Count} message(s) of the load were dead-lettered: {string.Join(" || ", unexpectedDeadLetters.Take(5))}");
        }

        // ---- nothing left in flight: outbox tables empty, every queue of the vhost empty.
        var stuck = 0;
        foreach (var service in new[] { "Ingestion", "Workers", "Sagas" })
        {
            var rows = await ScalarAsync(
                topology.Database(service).ConnectionString,
                "SELECT (SELECT count(*) FROM outbox_messages) + (SELECT count(*) FROM outbox_state)");
            if (rows > 0)
            {
                stuck += (int)rows;
                problems.Add($"{service}: {rows} outbox row(s) still pending");
            }
        }

        foreach (var (queue, messages) in await topology.QueueDepthsAsync())
        {
            if (messages > 0)
            {
                stuck += messages;
                problems.Add($"queue {queue} still holds {messages} message(s)");
            }
        }

        // A valid request must end accepted: a sender retrying through every outage gets its 2xx in the end.
        var refused = requests.Where(r => r.Kind is RequestKind.Webhook or RequestKind.Signup && r.Status is not null && !r.Accepted).ToList();
        problems.AddRange(refused
            .GroupBy(r => (r.Kind, r.Status))
            .Select(g => $"{g.Count()} valid {g.Key.Kind} request(s) were finally refused with {(int)g.Key.Status!}, e.g. {g.First().Key}: {g.First().LastFailure}"));

        var answered = requests.Where(r => r.Kind != RequestKind.DuplicateWebhook && r.Status is not null).ToList();
        var unanswered = requests.Where(r => r.Status is null).ToList();
        problems.AddRange(unanswered.Take(10).Select(r => $"{r.Kind} {r.Key} never got a definitive answer: {r.LastFailure}"));
        return new Accounting(
            scenario,
            requests.Count + poisonIds.Length,
            answered.Count(r => r.Accepted),
            answered.Count(r => !r.Accepted),
            unanswered.Count,
            requests.Count(r => r.Attempts > 1),
            processed,
            suppressed,
            poisonIds.Length,
            deadLettered,
            failedForGood.Count,
            lost,
            duplicates,
            leaked,
            stuck + unexpectedDeadLetters.Count,
            refused.Count,
            earlyTimeouts.Count,
            string.Join(", ", requests
                .GroupBy(r => (r.Kind, Status: r.Status is { } status ? (int)status : 0))
                .OrderBy(g => g.Key.Kind).ThenBy(g => g.Key.Status)
                .Select(g => $"{g.Key.Kind} {g.Key.Status}: {g.Count()} (attempts ≤ {g.Max(r => r.Attempts)})"))
                + "; per second of load, sent → retried → latest answer: " + string.Join(" ", requests
                    .GroupBy(r => (int)r.SentAt).OrderBy(g => g.Key)
                    .Select(g => $"{g.Key}s:{g.Count()}→{g.Count(r => r.Attempts > 1)}→{g.Max(r => r.AnsweredAt):F1}"))
                + "; first failures: " + string.Join(" | ", requests.Where(r => r.FirstFailure is not null).Select(r => r.FirstFailure![..Math.Min(120, r.FirstFailure!.Length)]).Take(4)),
            problems);
    }

    private static async Task<Dictionary<(string Recipient, string Template), int>> DeliveredAsync(ReliabilityTopology topology)
    {
        var delivered = await topology.Provider.Client.GetFromJsonAsync<JsonElement>(new Uri("/notifications", UriKind.Relative));
        return delivered.EnumerateArray()
            .GroupBy(x => (x.GetProperty("recipient").GetString()!, x.GetProperty("template").GetString()!))
            .ToDictionary(g => g.Key, g => g.Count());
    }

    public static async Task<long> ScalarAsync(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<HashSet<T>> ColumnAsync<T>(string connectionString, string sql, params (string Name, object Value)[] parameters) =>
        [.. await RowsAsync(connectionString, sql, reader => reader.GetFieldValue<T>(0), parameters)];

    private static async Task<List<T>> RowsAsync<T>(
        string connectionString, string sql, Func<NpgsqlDataReader, T> read, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
