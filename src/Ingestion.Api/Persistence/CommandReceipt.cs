namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>
/// A command as the edge accepted it, committed with its contract's outbox row. With an <c>Idempotency-Key</c> it is
/// also the first result that a retry of the same request gets back.
/// </summary>
public sealed class CommandReceipt
{
    public Guid CommandId { get; set; }

    public required string Name { get; set; }

    /// <summary>Who sent it: the token's subject. Idempotency keys are scoped to the caller.</summary>
    public required string Caller { get; set; }

    public string? IdempotencyKey { get; set; }

    /// <summary>SHA-256 of the command name and the raw body: a reused key with another request is refused, not replayed.</summary>
    public required byte[] RequestHash { get; set; }

    public required string Location { get; set; }

    public DateTimeOffset AcceptedAt { get; set; }
}
