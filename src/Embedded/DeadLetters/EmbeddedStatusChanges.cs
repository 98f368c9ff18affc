using EventBackbone.DeadLetters.Persistence;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// Archive, restore and delete, one message or many (ids, or the list's filter with a status), each with a required
/// reason and one audit row per message written in the same store transaction as the change.
/// </summary>
internal static class EmbeddedStatusChanges
{
    private const int MaxIds = 1000;

    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/{messageId:guid}/archive", (Guid messageId, ReasonBody? body, HttpContext context, InMemoryDeadLetterStore store) =>
            One(messageId, body?.Reason, "archive", context, store)).RequireScope(DeadLetterActions.EditScope);
        api.MapPost("/{messageId:guid}/restore", (Guid messageId, ReasonBody? body, HttpContext context, InMemoryDeadLetterStore store) =>
            One(messageId, body?.Reason, "restore", context, store)).RequireScope(DeadLetterActions.EditScope);
        api.MapDelete("/{messageId:guid}", (Guid messageId, string? reason, HttpContext context, InMemoryDeadLetterStore store) =>
            One(messageId, reason, "delete", context, store)).RequireScope(DeadLetterActions.DeleteScope);
        api.MapPost("/archive", (BulkRequest request, HttpContext context, InMemoryDeadLetterStore store) => Many(request, "archive", context, store))
            .RequireScope(DeadLetterActions.EditScope);
        api.MapPost("/restore", (BulkRequest request, HttpContext context, InMemoryDeadLetterStore store) => Many(request, "restore", context, store))
            .RequireScope(DeadLetterActions.EditScope);
        api.MapPost("/delete", (BulkRequest request, HttpContext context, InMemoryDeadLetterStore store) => Many(request, "delete", context, store))
            .RequireScope(DeadLetterActions.DeleteScope);
    }

    private static IResult One(Guid messageId, string? reason, string action, HttpContext context, InMemoryDeadLetterStore store)
    {
        if (MissingReason(reason, action) is { } refusal)
        {
            return refusal;
        }

        return store.Transaction(s =>
        {
            if (!s.Letters.TryGetValue(messageId, out var letter))
            {
                return DeadLetterActions.NotFound(messageId);
            }

            if (!Apply(s, letter, action, BackboneAuthentication.CallerId(context.User), reason!))
            {
                return Results.Problem(type: "https://eventbackbone.dev/problems/dead-letter-state", statusCode: StatusCodes.Status409Conflict,
                    title: "Not in that state", detail: $"Only a dead letter that is '{From(action)}' can be {action}d.");
            }

            return action == "delete" ? Results.NoContent() : Results.Ok(new { messageId, status = letter.Status });
        });
    }

    private static IResult Many(BulkRequest request, string action, HttpContext context, InMemoryDeadLetterStore store)
    {
        if (MissingReason(request.Reason, action) is { } refusal)
        {
            return refusal;
        }

        if (request.MessageIds is { Count: > MaxIds })
        {
            return EmbeddedDeadLetterApi.Validation("messageIds", $"At most {MaxIds} ids at a time; use a filter for more.");
        }

        if (request.MessageIds is not { Count: > 0 } && (request.Filter is null || request.Filter with { Status = null } == new BulkFilter(null, null, null, null, null, null, null, null)))
        {
            // An empty filter would change everything: that has to be asked for with a field, not by omission.
            return EmbeddedDeadLetterApi.Validation("messageIds", "Name the messages, or a non-empty filter.");
        }

        var actor = BackboneAuthentication.CallerId(context.User);
        return Results.Ok(store.Transaction(s =>
        {
            List<DeadLetter> matched = request.MessageIds is { Count: > 0 } ids
                ? [.. ids.Distinct().Select(id => s.Letters.GetValueOrDefault(id)).OfType<DeadLetter>()]
                : [.. EmbeddedDeadLetterApi.Filter(s.Letters.Values, request.Filter!.Status ?? From(action) ?? "dead", request.Filter.Queue, request.Filter.MessageType,
                    request.Filter.Exception, request.Filter.Fingerprint, request.Filter.From, request.Filter.To, request.Filter.Q)];
            return new BulkResult(matched.Count, matched.Count(letter => Apply(s, letter, action, actor, request.Reason!)));
        }));
    }

    /// <summary>Only inside a store transaction: the change and its audit row.</summary>
    private static bool Apply(InMemoryDeadLetterStore store, DeadLetter letter, string action, string actor, string reason)
    {
        if (action == "delete")
        {
            store.Letters.Remove(letter.MessageId);
            store.Failures.RemoveAll(x => x.MessageId == letter.MessageId);
        }
        else if (letter.Status == From(action))
        {
            letter.Status = action == "archive" ? "archived" : "dead";
        }
        else
        {
            return false;
        }

        store.AddAudit(actor, action, letter.MessageId, reason);
        return true;
    }

    private static string? From(string action) => action switch
    {
        "archive" => "dead",
        "restore" => "archived",
        _ => null,
    };

    private static IResult? MissingReason(string? reason, string action) =>
        string.IsNullOrWhiteSpace(reason) || reason.Length > 500
            ? EmbeddedDeadLetterApi.Validation("reason", $"To {action} needs a reason (at most 500 characters), for the audit.")
            : null;
}
