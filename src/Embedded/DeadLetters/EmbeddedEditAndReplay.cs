using System.Text.Json;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.ServiceDefaults.Settings;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace EventBackbone.Embedded.DeadLetters;

/// <summary>
/// Edit-and-replay in embedded mode: on when <c>Backbone:DeadLetters:EditAndReplay</c> is true (embedded's
/// appsettings turn it on, for the demo), validated strictly against the real contract with the service's
/// <see cref="ContractTypes"/>, refused field by field (the error keyed by the JSON path of the field).
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
        var fields = contract?.GetConstructors().OrderByDescending(x => x.GetParameters().Length).FirstOrDefault()?.GetParameters()
            .Select(x => new EditField(JsonNamingPolicy.CamelCase.ConvertName(x.Name!), x.ParameterType.Name)).ToList() ?? [];
        return Results.Ok(new EditForm(Enabled(configuration) && contract is not null, messageType, contract?.FullName, fields));
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

        try
        {
            _ = JsonSerializer.Deserialize(request.Message, contract, ContractTypes.Strict) ?? throw new JsonException("The message is null.");
        }
        catch (JsonException invalid)
        {
            // "$.signupId" → "signupId": the console shows the error next to that field.
            var field = invalid.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "message";
            return EmbeddedDeadLetterApi.Validation(field, $"The edited message is not a valid {contract.Name}: {invalid.Message}");
        }

        var outcome = await replayer.ReplayAsync(messageId, BackboneAuthentication.CallerId(context.User), request.Reason, request.Message, jobId: null, cancellationToken);
        return outcome switch
        {
            ReplayOutcome.NotFound => DeadLetterActions.NotFound(messageId),
            ReplayOutcome.Failed => Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Replay failed"),
            _ => Results.Ok(new { messageId, outcome = ReplayJobRunner.Describe(outcome) }),
        };
    }
}
