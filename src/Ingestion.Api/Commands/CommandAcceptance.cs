using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EventBackbone.Ingestion.Api.Persistence;
using EventBackbone.Ingestion.Api.Webhooks;
using EventBackbone.ServiceDefaults.Authentication;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.Ingestion.Api.Commands;

/// <summary>
/// Accepts a command: checks its body, then commits the receipt and its contract's outbox row in one transaction
/// (the same outbox path as webhooks), so a 202 means the contract will be published and a failure publishes nothing.
/// An <c>Idempotency-Key</c> makes a retry of the same request return the first result instead of acting twice.
/// </summary>
public sealed partial class CommandAcceptance(
    IngestionDbContext db,
    IPublishEndpoint publishEndpoint,
    CommandSettings settings,
    TimeProvider clock,
    ILogger<CommandAcceptance> logger)
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    public async Task<IResult> AcceptAsync<TBody>(
        CommandDefinition<TBody> command, HttpRequest request, string? idempotencyKey, CancellationToken cancellationToken)
    {
        if (!MediaTypes.IsJson(request.ContentType))
        {
            return ProblemTypes.Problem(ProblemTypes.UnsupportedMediaType, StatusCodes.Status415UnsupportedMediaType,
                "Unsupported media type", "Commands are accepted as application/json.");
        }

        // Model binding reads an empty header as no header; an empty key is a client bug worth reporting.
        idempotencyKey ??= request.Headers.ContainsKey(IdempotencyKeyHeader) ? "" : null;
        if (idempotencyKey is not null && !IsValidIdempotencyKey(idempotencyKey))
        {
            return ProblemTypes.Problem(ProblemTypes.InvalidIdempotencyKey, StatusCodes.Status400BadRequest,
                "Invalid Idempotency-Key", "An Idempotency-Key is 1 to 255 visible ASCII characters.");
        }

        var body = await RequestBody.ReadBoundedAsync(request, settings.MaxBodyBytes, cancellationToken);
        if (body is null)
        {
            return ProblemTypes.Problem(ProblemTypes.BodyTooLarge, StatusCodes.Status413PayloadTooLarge,
                "Body too large", $"A command body is at most {settings.MaxBodyBytes} bytes.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return ProblemTypes.Problem(ProblemTypes.MalformedBody, StatusCodes.Status400BadRequest,
                "Malformed body", "The body is not well-formed UTF-8 JSON.");
        }

        using (document)
        {
            var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
            JsonShape.Validate(document.RootElement, typeof(TBody), "", errors);
            var typed = errors.Count == 0 ? document.RootElement.Deserialize<TBody>(JsonShape.Options)! : default;
            if (typed is not null)
            {
                command.Check(typed, errors);
            }

            if (errors.Count > 0 || typed is null)
            {
                return Results.ValidationProblem(
                    errors,
                    type: ProblemTypes.InvalidCommand,
                    statusCode: StatusCodes.Status422UnprocessableEntity,
                    title: "The command is invalid",
                    detail: "Each field below names what is wrong with it; nothing was accepted.");
            }

            var caller = BackboneAuthentication.CallerId(request.HttpContext.User);
            var hash = RequestHash(command.Name, body);
            if (idempotencyKey is not null && await FindAsync(caller, idempotencyKey, cancellationToken) is { } earlier)
            {
                return Replay(earlier, hash, request.HttpContext);
            }

            var commandId = NewId.NextGuid();
            var now = clock.GetUtcNow();
            var outcome = command.ToMessage(typed, commandId, now);
            db.CommandReceipts.Add(new CommandReceipt
            {
                CommandId = commandId,
                Name = command.Name,
                Caller = caller,
                IdempotencyKey = idempotencyKey,
                RequestHash = hash,
                Location = outcome.Location,
                AcceptedAt = now,
            });
            // The message id is the command id, so the command's status can tell whether its message left the outbox.
            await publishEndpoint.Publish(
                outcome.Message, outcome.MessageType, Pipe.Execute<PublishContext>(context => context.MessageId = commandId), cancellationToken);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException race) when (race.InnerException is PostgresException
            {
                SqlState: PostgresErrorCodes.UniqueViolation,
                ConstraintName: IngestionDbContext.IdempotencyIndex,
            })
            {
                // The same key committed first in a concurrent request; this attempt's receipt and outbox row rolled back.
                db.ChangeTracker.Clear();
                var winner = await FindAsync(caller, idempotencyKey!, cancellationToken)
                    ?? throw new InvalidOperationException($"Idempotency key of {caller} collided with a receipt that cannot be found.", race);
                return Replay(winner, hash, request.HttpContext);
            }

            LogAccepted(logger, command.Name, commandId, caller);
            return Results.Accepted(outcome.Location, new AcceptedCommand(commandId));
        }
    }

    private static IResult Replay(CommandReceipt earlier, byte[] hash, HttpContext context)
    {
        if (!CryptographicOperations.FixedTimeEquals(earlier.RequestHash, hash))
        {
            // Replaying the first result for a different request would tell the caller that this one was done.
            return ProblemTypes.Problem(ProblemTypes.IdempotencyKeyReused, StatusCodes.Status422UnprocessableEntity,
                "Idempotency-Key reused", "This Idempotency-Key was already used for a different request.");
        }

        context.Response.Headers[ReplayedHeader] = "true";
        return Results.Accepted(earlier.Location, new AcceptedCommand(earlier.CommandId));
    }

    private Task<CommandReceipt?> FindAsync(string caller, string idempotencyKey, CancellationToken cancellationToken) =>
        db.CommandReceipts.AsNoTracking()
            .SingleOrDefaultAsync(x => x.Caller == caller && x.IdempotencyKey == idempotencyKey, cancellationToken);

    private static byte[] RequestHash(string name, byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(name + "\n"));
        hash.AppendData(body);
        return hash.GetHashAndReset();
    }

    private static bool IsValidIdempotencyKey(string key) =>
        key.Length is > 0 and <= 255 && key.All(c => c is > ' ' and <= '~');

    [LoggerMessage(LogLevel.Information, "Accepted command {CommandName} {CommandId} from {Caller}")]
    private static partial void LogAccepted(ILogger logger, string commandName, Guid commandId, string caller);
}
