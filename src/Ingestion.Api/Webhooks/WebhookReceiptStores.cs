using EventBackbone.Ingestion.Api.Persistence;
using EventBackbone.Messaging.Durable;
using EventBackbone.Messaging.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using NpgsqlTypes;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Where accepted webhooks and their outbox rows are written: each webhook's receipt and message commit together or
/// not at all. The webhooks of one call need not share a transaction (the SQL store commits each in whichever group
/// commit takes it), so some can commit while others fail.
/// </summary>
public interface IWebhookReceiptStore
{
    /// <returns>
    /// One task per webhook, in order, completed once its receipt and message are durable or failed on its own: a
    /// failure of one must not hide that others committed (retrying those without a dedupe key would publish twice).
    /// </returns>
    IReadOnlyList<Task<RecordedWebhook>> Record(IReadOnlyList<VerifiedWebhook> webhooks, CancellationToken cancellationToken);
}

/// <summary>What <see cref="WebhookReceiptRules"/> looks up before it writes, one query per kind for a whole batch.</summary>
public interface IWebhookReceiptReads
{
    /// <summary>The event ids of receipts already committed for these (source, dedupe key) pairs; one query.</summary>
    Task<Dictionary<(string Source, string DedupeKey), Guid>> FindAcceptedAsync(
        IReadOnlyList<(string Source, string DedupeKey)> keys, CancellationToken cancellationToken);

    /// <summary>
    /// The event ids of bodies (SHA-256, lowercase hex) accepted from these sources since <paramref name="windowStart"/>;
    /// one query.
    /// </summary>
    Task<Dictionary<(string Source, string Digest), Guid>> FindAcceptedBodiesAsync(
        IReadOnlyList<(string Source, string Digest)> bodies, DateTimeOffset windowStart, CancellationToken cancellationToken);
}

/// <summary>Receipts and the messages published to <see cref="OutboxFor"/>, each webhook's committed together with its message or not at all.</summary>
public interface IWebhookReceiptWrite
{
    /// <summary>Where webhook <paramref name="webhook"/> (its index in the batch) publishes its message.</summary>
    IPublishEndpoint OutboxFor(int webhook);

    void Add(WebhookReceipt receipt);

    /// <summary>Remembers an accepted body, replacing the digest of an identical one accepted before <paramref name="windowStart"/>.</summary>
    void Add(WebhookBodyDigest digest, DateTimeOffset windowStart);
}

/// <summary>
/// PostgreSQL: every webhook is one caller of the messaging core's group commit (<see cref="IDurablePublisher"/>), so
/// concurrent requests share one round trip and one commit, each with its own outbox group. The receipts of a batch
/// are one array INSERT beside the outbox rows: EF Core change tracking of the same rows was a fifth of the API's CPU
/// under load (bench/README.md, Webhooks.Bench). A copy of a delivery that a concurrent transaction committed first
/// violates the dedupe key; the group commit then retries each caller alone, and the lookup answers that copy as a
/// repeat.
/// </summary>
public sealed class SqlWebhookReceiptStore(ServiceDataSource<IngestionDbContext> database, IDurablePublisher publisher, WebhookReceiptRules rules)
    : IWebhookReceiptStore, IWebhookReceiptReads, IDurableBatchWriter<VerifiedWebhook, RecordedWebhook>
{
    public IReadOnlyList<Task<RecordedWebhook>> Record(IReadOnlyList<VerifiedWebhook> webhooks, CancellationToken cancellationToken) =>
        [.. webhooks.Select(webhook => RecordOneAsync(webhook, cancellationToken))];

    private async Task<RecordedWebhook> RecordOneAsync(VerifiedWebhook webhook, CancellationToken cancellationToken)
    {
        try
        {
            return await publisher.WriteAsync(this, webhook, cancellationToken);
        }
        catch (PostgresException race) when (IsDedupeRace(race))
        {
            // A copy committed by another writer or instance after our lookup (whether this webhook was alone in its
            // transaction or failed again when the group commit retried it alone): the lookup now finds that copy.
            return await publisher.WriteAsync(this, webhook, cancellationToken);
        }
    }

    private static bool IsDedupeRace(PostgresException failure) => failure is
    {
        SqlState: PostgresErrorCodes.UniqueViolation,
        ConstraintName: IngestionDbContext.DedupeIndex or IngestionDbContext.BodyDigestKey,
    };

    /// <summary>Every webhook queued for one group commit, at once: one lookup per kind, repeats within the batch found too.</summary>
    public async Task<IReadOnlyList<RecordedWebhook>> PrepareAsync(IReadOnlyList<VerifiedWebhook> items, DurableBatch batch, CancellationToken cancellationToken)
    {
        var write = new Write(batch);
        var results = await rules.WriteAsync(items, this, write, cancellationToken);
        write.AddStatements();
        return results;
    }

    public async Task<Dictionary<(string Source, string DedupeKey), Guid>> FindAcceptedAsync(
        IReadOnlyList<(string Source, string DedupeKey)> keys, CancellationToken cancellationToken)
    {
        await using var query = database.DataSource.CreateCommand("""
            SELECT r.source, r.dedupe_key, r.event_id
            FROM webhook_receipts r JOIN unnest($1::text[], $2::text[]) AS k(source, dedupe_key)
                ON r.source = k.source AND r.dedupe_key = k.dedupe_key
            """);
        query.Parameters.Add(new NpgsqlParameter { Value = keys.Select(x => x.Source).ToArray() });
        query.Parameters.Add(new NpgsqlParameter { Value = keys.Select(x => x.DedupeKey).ToArray() });
        var found = new Dictionary<(string Source, string DedupeKey), Guid>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[(reader.GetString(0), reader.GetString(1))] = reader.GetGuid(2);
        }

        return found;
    }

    public async Task<Dictionary<(string Source, string Digest), Guid>> FindAcceptedBodiesAsync(
        IReadOnlyList<(string Source, string Digest)> bodies, DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        await using var query = database.DataSource.CreateCommand("""
            SELECT d.source, d.body_sha256, d.event_id
            FROM webhook_body_digests d JOIN unnest($1::text[], $2::bytea[]) AS k(source, body_sha256)
                ON d.source = k.source AND d.body_sha256 = k.body_sha256
            WHERE d.received_at >= $3
            """);
        query.Parameters.Add(new NpgsqlParameter { Value = bodies.Select(x => x.Source).ToArray() });
        query.Parameters.Add(new NpgsqlParameter { Value = bodies.Select(x => Convert.FromHexString(x.Digest)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        query.Parameters.Add(new NpgsqlParameter { Value = windowStart.UtcDateTime });
        var found = new Dictionary<(string Source, string Digest), Guid>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[(reader.GetString(0), Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(1)))] = reader.GetGuid(2);
        }

        return found;
    }

    private sealed class Write(DurableBatch batch) : IWebhookReceiptWrite
    {
        private readonly List<WebhookReceipt> _receipts = [];
        private readonly List<WebhookBodyDigest> _digests = [];
        private DateTimeOffset _windowStart;

        public IPublishEndpoint OutboxFor(int webhook) => batch.PublishEndpointFor(webhook);

        public void Add(WebhookReceipt receipt) => _receipts.Add(receipt);

        public void Add(WebhookBodyDigest digest, DateTimeOffset windowStart)
        {
            _digests.Add(digest);
            _windowStart = windowStart;
        }

        public void AddStatements()
        {
            if (_receipts.Count > 0)
            {
                batch.Add(new NpgsqlBatchCommand("""
                    INSERT INTO webhook_receipts (event_id, source, event_type, dedupe_key, content_type, body, received_at)
                    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::timestamptz[])
                    """)
                {
                    Parameters =
                    {
                        new() { Value = _receipts.Select(x => x.EventId).ToArray() },
                        new() { Value = _receipts.Select(x => x.Source).ToArray() },
                        new() { Value = _receipts.Select(x => x.EventType).ToArray() },
                        new() { Value = _receipts.Select(x => x.DedupeKey).ToArray() },
                        new() { Value = _receipts.Select(x => x.ContentType).ToArray() },
                        new() { Value = _receipts.Select(x => x.Body).ToArray() },
                        new() { Value = _receipts.Select(x => x.ReceivedAt.UtcDateTime).ToArray() },
                    },
                });
            }

            if (_digests.Count > 0)
            {
                AddDigests();
            }
        }

        private void AddDigests()
        {
            var sources = _digests.Select(x => x.Source).ToArray();
            var hashes = _digests.Select(x => x.BodySha256).ToArray();
            // A digest older than the window no longer makes its body a repeat; removed first, so only a copy accepted
            // within the window (committed concurrently, after our lookup) violates the key and is answered as a repeat.
            batch.Add(new NpgsqlBatchCommand("""
                DELETE FROM webhook_body_digests d USING unnest($1::text[], $2::bytea[]) AS k(source, body_sha256)
                WHERE d.source = k.source AND d.body_sha256 = k.body_sha256 AND d.received_at < $3
                """)
            {
                Parameters =
                {
                    new() { Value = sources },
                    new() { Value = hashes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea },
                    new() { Value = _windowStart.UtcDateTime },
                },
            });
            batch.Add(new NpgsqlBatchCommand("""
                INSERT INTO webhook_body_digests (source, body_sha256, event_id, received_at)
                SELECT * FROM unnest($1::text[], $2::bytea[], $3::uuid[], $4::timestamptz[])
                """)
            {
                Parameters =
                {
                    new() { Value = sources },
                    new() { Value = hashes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea },
                    new() { Value = _digests.Select(x => x.EventId).ToArray() },
                    new() { Value = _digests.Select(x => x.ReceivedAt.UtcDateTime).ToArray() },
                },
            });
        }
    }
}

/// <summary>Embedded mode's in-memory store (no SQL): receipts and bus-outbox rows through EF Core.</summary>
public sealed class EfWebhookReceiptStore(IngestionDbContext db, IPublishEndpoint publishEndpoint, WebhookReceiptRules rules)
    : IWebhookReceiptStore, IWebhookReceiptReads
{
    /// <summary>One SaveChanges for the whole call: every webhook's task has the same outcome.</summary>
    public IReadOnlyList<Task<RecordedWebhook>> Record(IReadOnlyList<VerifiedWebhook> webhooks, CancellationToken cancellationToken)
    {
        var all = RecordAllAsync(webhooks, cancellationToken);
        return [.. webhooks.Select((_, i) => ResultAsync(all, i))];
    }

    private static async Task<RecordedWebhook> ResultAsync(Task<RecordedWebhook[]> all, int webhook) => (await all)[webhook];

    private async Task<RecordedWebhook[]> RecordAllAsync(IReadOnlyList<VerifiedWebhook> webhooks, CancellationToken cancellationToken)
    {
        // A retry after a failed commit starts from nothing.
        db.ChangeTracker.Clear();
        var results = await rules.WriteAsync(webhooks, this, new Write(db, publishEndpoint), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return results;
    }

    public async Task<Dictionary<(string Source, string DedupeKey), Guid>> FindAcceptedAsync(
        IReadOnlyList<(string Source, string DedupeKey)> keys, CancellationToken cancellationToken)
    {
        var sources = keys.Select(x => x.Source).Distinct().ToList();
        var dedupeKeys = keys.Select(x => x.DedupeKey).Distinct().ToList();
        var found = await db.WebhookReceipts.AsNoTracking()
            .Where(x => sources.Contains(x.Source) && dedupeKeys.Contains(x.DedupeKey!))
            .Select(x => new { x.Source, x.DedupeKey, x.EventId })
            .ToListAsync(cancellationToken);
        return found.ToDictionary(x => (x.Source, x.DedupeKey!), x => x.EventId);
    }

    public async Task<Dictionary<(string Source, string Digest), Guid>> FindAcceptedBodiesAsync(
        IReadOnlyList<(string Source, string Digest)> bodies, DateTimeOffset windowStart, CancellationToken cancellationToken)
    {
        var sources = bodies.Select(x => x.Source).Distinct().ToList();
        var recent = await db.WebhookBodyDigests.AsNoTracking()
            .Where(x => sources.Contains(x.Source) && x.ReceivedAt >= windowStart)
            .Select(x => new { x.Source, x.BodySha256, x.EventId })
            .ToListAsync(cancellationToken);
        var wanted = bodies.ToHashSet();
        return recent.Select(x => (Key: (x.Source, Convert.ToHexStringLower(x.BodySha256)), x.EventId))
            .Where(x => wanted.Contains(x.Key))
            .ToDictionary(x => x.Key, x => x.EventId);
    }

    private sealed class Write(IngestionDbContext db, IPublishEndpoint publishEndpoint) : IWebhookReceiptWrite
    {
        public IPublishEndpoint OutboxFor(int webhook) => publishEndpoint;

        public void Add(WebhookReceipt receipt) => db.WebhookReceipts.Add(receipt);

        public void Add(WebhookBodyDigest digest, DateTimeOffset windowStart)
        {
            // Only a digest older than the window can be here (a younger one made this body a repeat): it is replaced.
            if (db.WebhookBodyDigests.Find(digest.Source, digest.BodySha256) is { } stale)
            {
                stale.EventId = digest.EventId;
                stale.ReceivedAt = digest.ReceivedAt;
            }
            else
            {
                db.WebhookBodyDigests.Add(digest);
            }
        }
    }
}
