using EventBackbone.Ingestion.Api.Persistence;
using EventBackbone.Messaging.Outbox;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.OpenApi;

namespace EventBackbone.Ingestion.Api.Commands;

public static class CommandEndpoints
{
    /// <summary>The OpenAPI security scheme every command operation refers to.</summary>
    public const string BearerScheme = "Bearer";

    public static IEndpointRouteBuilder MapCommandEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var commands = endpoints.MapGroup("/api/v1/commands").WithTags("Commands").AddEndpointFilter(RequireIdentifiedCallerAsync);
        Map(commands, CommandCatalog.RequestSignup, "RequestSignup",
            (CommandAcceptance acceptance, HttpRequest request, [FromHeader(Name = CommandAcceptance.IdempotencyKeyHeader)] string? idempotencyKey, CancellationToken cancellationToken) =>
                acceptance.AcceptAsync(CommandCatalog.RequestSignup, request, idempotencyKey, cancellationToken));
        Map(commands, CommandCatalog.VerifyEmail, "VerifyEmail",
            (CommandAcceptance acceptance, HttpRequest request, [FromHeader(Name = CommandAcceptance.IdempotencyKeyHeader)] string? idempotencyKey, CancellationToken cancellationToken) =>
                acceptance.AcceptAsync(CommandCatalog.VerifyEmail, request, idempotencyKey, cancellationToken));
        var publishEvent = endpoints.ServiceProvider.GetRequiredService<CommandCatalog>().PublishEvent;
        Map(commands, publishEvent, "PublishEvent",
            (CommandAcceptance acceptance, HttpRequest request, [FromHeader(Name = CommandAcceptance.IdempotencyKeyHeader)] string? idempotencyKey, CancellationToken cancellationToken) =>
                acceptance.AcceptAsync(publishEvent, request, idempotencyKey, cancellationToken));

        // Any other name: a problem that lists the real ones, after authentication so it reveals nothing to strangers.
        commands.MapPost("/{name}", (string name) => ProblemTypes.Problem(ProblemTypes.UnknownCommand, StatusCodes.Status404NotFound,
                "Unknown command", $"No command is named '{name}'. Commands: request-signup, verify-email, publish-event."))
            .RequireAuthorization()
            .ExcludeFromDescription();

        commands.MapGet("/{commandId:guid}", GetStatusAsync)
            .WithName("GetCommandStatus")
            .RequireAuthorization()
            .Produces<CommandStatus>()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    /// <summary>
    /// Commands are per caller (idempotency keys, command status): a token that names no caller would share one
    /// identity with every other such token, and with it their keys and statuses. Runs after authorization, so a
    /// missing or invalid token is still the 401 it was.
    /// </summary>
    private static async ValueTask<object?> RequireIdentifiedCallerAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        BackboneAuthentication.IdentifiedCaller(context.HttpContext.User) is null
            ? BackboneAuthentication.UnidentifiedCallerRefusal("commands are kept per caller")
            : await next(context);

    private static void Map<TBody>(RouteGroupBuilder commands, CommandDefinition<TBody> command, string name, Delegate handler) =>
        commands.MapPost($"/{command.Name}", handler)
            .WithName(name)
            .WithSummary($"{name} (scope {command.Scope})")
            .RequireScope(command.Scope)
            // Documented, not enforced by routing: Accepts() would let the router answer other media types itself,
            // bypassing the 415 problem this API promises.
            .AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/json"] = new() { Schema = await context.GetOrCreateSchemaAsync(typeof(TBody), null, cancellationToken) },
                    },
                };
                operation.Security =
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [command.Scope] },
                ];
            })
            .Produces<AcceptedCommand>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    /// <summary>A caller sees only its own commands; someone else's id is answered as unknown.</summary>
    private static async Task<IResult> GetStatusAsync(Guid commandId, HttpContext context, IngestionDbContext db, CancellationToken cancellationToken)
    {
        var caller = BackboneAuthentication.CallerId(context.User);
        var receipt = await db.CommandReceipts.AsNoTracking()
            .Where(x => x.CommandId == commandId && x.Caller == caller)
            .Select(x => new { x.CommandId, x.Name, x.AcceptedAt })
            .SingleOrDefaultAsync(cancellationToken);
        if (receipt is null)
        {
            return ProblemTypes.Problem(ProblemTypes.CommandNotFound, StatusCodes.Status404NotFound, "Command not found", $"No command of yours has id {commandId}.");
        }

        var waiting = await db.Set<OutboxMessage>().AnyAsync(x => x.MessageId == commandId, cancellationToken);
        return Results.Ok(new CommandStatus(receipt.CommandId, receipt.Name, receipt.AcceptedAt, waiting ? "accepted" : "published"));
    }
}
