using EventBackbone.Ingestion.Api.Persistence;
using EventBackbone.Messaging.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>Where accepted webhooks and their outbox rows are written, one transaction per <see cref="Begin"/>.</summary>
public interface IWebhookReceiptStore
{
    /// <summary>The event ids of receipts already committed for these (source, dedupe key) pairs; one query.</summary>
    Task<Dictionary<(string Source, string DedupeKey), Guid>> FindAcceptedAsync(
        IReadOnlyList<(string Source, string DedupeKey)> keys, CancellationToken cancellationToken);

    IWebhookReceiptWrite Begin();

    /// <summary>The commit failed because a copy of one of its deliveries committed first (the dedupe index).</summary>
    bool IsDedupeRace(Exception failure);
}

/// <summary>Receipts and the messages published to <see cref="Outbox"/>, committed together or not at all.</summary>
public interface IWebhookReceiptWrite
{
    IPublishEndpoint Outbox { get; }

    void Add(WebhookReceipt receipt);

    Task CommitAsync(CancellationToken cancellationToken);
}

/// <summary>
/// PostgreSQL: receipts with one array INSERT beside the SQL outbox's rows, one round trip and one commit per batch.
/// EF Core change tracking of the same rows was a fifth of the API's CPU under load (bench/README.md, Webhooks.Bench).
/// </summary>
public sealed class SqlWebhookReceiptStore(SqlOutbox<IngestionDbContext> outbox) : IWebhookReceiptStore
{
    public async Task<Dictionary<(string Source, string DedupeKey), Guid>> FindAcceptedAsync(
        IReadOnlyList<(string Source, string DedupeKey)> keys, CancellationToken cancellationToken)
    {
        await using var query = outbox.DataSource.CreateCommand("""
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

    public IWebhookReceiptWrite Begin() => new Write(outbox.CreateBatch());

    public bool IsDedupeRace(Exception failure) => failure is PostgresException
    {
        SqlState: PostgresErrorCodes.UniqueViolation,
        ConstraintName: IngestionDbContext.DedupeIndex,
    };

    private sealed class Write(SqlOutboxBatch batch) : IWebhookReceiptWrite
    {
        private readonly List<WebhookReceipt> _receipts = [];

        public IPublishEndpoint Outbox => batch.PublishEndpoint;

        public void Add(WebhookReceipt receipt) => _receipts.Add(receipt);

        public Task CommitAsync(CancellationToken cancellationToken)
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

            return batch.CommitAsync(cancellationToken);
        }
    }
}

/// <summary>Embedded mode's in-memory store (no SQL): receipts and bus-outbox rows through EF Core.</summary>
public sealed class EfWebhookReceiptStore(IngestionDbContext db, IPublishEndpoint publishEndpoint) : IWebhookReceiptStore
{
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

    public IWebhookReceiptWrite Begin()
    {
        // A retry after a failed commit starts from nothing.
        db.ChangeTracker.Clear();
        return new Write(db, publishEndpoint);
    }

    /// <summary>The in-memory provider enforces no unique index, so there is no race to detect (nothing is durable there).</summary>
    public bool IsDedupeRace(Exception failure) => false;

    private sealed class Write(IngestionDbContext db, IPublishEndpoint publishEndpoint) : IWebhookReceiptWrite
    {
        public IPublishEndpoint Outbox => publishEndpoint;

        public void Add(WebhookReceipt receipt) => db.WebhookReceipts.Add(receipt);

        public Task CommitAsync(CancellationToken cancellationToken) => db.SaveChangesAsync(cancellationToken);
    }
}
