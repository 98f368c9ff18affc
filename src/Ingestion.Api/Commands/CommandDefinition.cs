namespace EventBackbone.Ingestion.Api.Commands;

/// <summary>What a command endpoint accepts and what it puts on the bus.</summary>
/// <param name="Name">The command's name in its URL, <c>/api/v1/commands/{name}</c>.</param>
/// <param name="Scope">The token scope a caller needs.</param>
/// <param name="Check">Rules beyond the body's shape (which <see cref="JsonShape"/> checks first); adds to the errors.</param>
/// <param name="ToMessage">The contract to publish for an accepted command, given its id and acceptance time.</param>
public sealed record CommandDefinition<TBody>(
    string Name,
    string Scope,
    Action<TBody, IDictionary<string, string[]>> Check,
    Func<TBody, Guid, DateTimeOffset, CommandMessage> ToMessage);

/// <param name="Location">Where the caller can follow what the command started.</param>
public sealed record CommandMessage(object Message, Type MessageType, string Location);

public sealed record AcceptedCommand(Guid CommandId);

public sealed record CommandStatus(Guid CommandId, string Name, DateTimeOffset AcceptedAt, string Status);
