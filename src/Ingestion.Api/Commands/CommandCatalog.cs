using System.Net.Mail;
using System.Text.Json;
using EventBackbone.Contracts.Signups;

namespace EventBackbone.Ingestion.Api.Commands;

/// <summary>The commands internal services may send, each with its scope, rules and contract.</summary>
public sealed class CommandCatalog(CommandSettings settings)
{
    public const string SignupScope = "commands:signup";
    public const string VerifyEmailScope = "commands:verify-email";
    public const string PublishScope = "commands:publish";

    public static readonly CommandDefinition<RequestSignupBody> RequestSignup = new(
        "request-signup",
        SignupScope,
        (body, errors) =>
        {
            var email = body.Email.Trim();
            if (email.Length > 254 || !MailAddress.TryCreate(email, out var parsed) || parsed.Address != email || parsed.DisplayName.Length > 0)
            {
                JsonShape.Add(errors, "email", "must be an email address (local@domain, at most 254 characters).");
            }

            if (body.DisplayName is { Length: > 100 })
            {
                JsonShape.Add(errors, "displayName", "must be at most 100 characters.");
            }
        },
        (body, commandId, now) => new CommandMessage(
            new SignupRequested(commandId, body.Email.Trim(), string.IsNullOrWhiteSpace(body.DisplayName) ? null : body.DisplayName.Trim(), now),
            typeof(SignupRequested),
            $"/api/v1/signups/{commandId}"));

    public static readonly CommandDefinition<VerifyEmailBody> VerifyEmail = new(
        "verify-email",
        VerifyEmailScope,
        (_, _) => { },
        (body, _, now) => new CommandMessage(
            new EmailVerified(body.SignupId, now), typeof(EmailVerified), $"/api/v1/signups/{body.SignupId}"));

    public CommandDefinition<PublishEventBody> PublishEvent { get; } = new(
        "publish-event",
        PublishScope,
        (body, errors) =>
        {
            if (!settings.Publishable.TryGetValue(body.MessageType, out var type))
            {
                JsonShape.Add(errors, "messageType", $"must be one of the publishable contracts: {string.Join(", ", settings.Publishable.Keys.Order())}.");
                return;
            }

            JsonShape.Validate(body.Message, type, "message", errors);
        },
        (body, commandId, _) =>
        {
            var type = settings.Publishable[body.MessageType];
            return new CommandMessage(
                body.Message.Deserialize(type, JsonShape.Options)!, type, $"/api/v1/commands/{commandId}");
        });
}
