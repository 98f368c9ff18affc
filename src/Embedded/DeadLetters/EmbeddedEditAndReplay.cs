using EventBackbone.DeadLetters;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// Edit-and-replay in embedded mode: on when <c>Backbone:DeadLetters:EditAndReplay</c> is true (embedded's
/// appsettings turn it on, for the demo), validated strictly against the real contract with the service's
/// <see cref="ContractTypes"/>, refused field by field as the service refuses it.
/// </summary>
internal static class EmbeddedEditAndReplay
{
    public const string SettingKey = "Backbone:DeadLetters:EditAndReplay";

    public static bool Enabled(IConfiguration configuration) => new SettingsReader(configuration).Bool(SettingKey, false);

    public static IResult Form(Guid messageId, IConfiguration configuration, InMemoryDeadLetterStore store)
    {
        var messageType = store.Transaction(s => s.Letters.TryGetValue(messageId, out var letter) ? letter.MessageType ?? "" : null);
        if (messageType is null)
        {
            return DeadLetterActions.NotFound(messageId);
        }

        var contract = ContractTypes.Resolve(messageType);
        return Results.Ok(new EditForm(Enabled(configuration), messageType, contract?.FullName, contract is null ? [] : ContractTypes.Fields(contract)));
    }

    public static async Task<IResult> EditAndReplayAsync(
        Guid messageId, EditRequest request, HttpContext context, IConfiguration configuration, InMemoryDeadLetterStore store, InMemoryReplayer replayer,
        CancellationToken cancellationToken)
    {
        if (!Enabled(configuration))
        {
            return Results.Problem(type: "https://eventbackbone.dev/problems/edit-and-replay-disabled", statusCode: StatusCodes.Status403Forbidden,
                title: "Edit-and-replay is disabled", detail: $"Set {SettingKey} to true to allow it.");
        }

        var messageType = store.Transaction(s => s.Letters.TryGetValue(messageId, out var letter) ? letter.MessageType ?? "" : null);
        if (messageType is null)
        {
            return DeadLetterActions.NotFound(messageId);
        }

        if (ContractTypes.Resolve(messageType) is not { } contract)
        {
            return EmbeddedDeadLetterApi.Validation("message", $"The message type '{messageType}' is not a known contract.");
        }

        // Keyed by the JSON path of the field ("signupId"): the console shows each error next to its field.
        if (ContractTypes.Validate(request.Message, contract) is { Count: > 0 } errors)
        {
            return Results.ValidationProblem(errors, statusCode: StatusCodes.Status422UnprocessableEntity);
        }

        var outcome = await replayer.ReplayAsync(messageId, BackboneAuthentication.CallerId(context.User), request.Reason, request.Message, jobId: null, cancellationToken);
        return outcome switch
        {
            ReplayOutcome.NotFound => DeadLetterActions.NotFound(messageId),
            ReplayOutcome.Failed or ReplayOutcome.BrokerUnreachable => Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Replay failed"),
            _ => Results.Ok(new { messageId, outcome = ReplayJobRunner.Describe(outcome) }),
        };
    }
}
