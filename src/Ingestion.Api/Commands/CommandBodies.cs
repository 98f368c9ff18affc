using System.Text.Json;

namespace EventBackbone.Ingestion.Api.Commands;

/// <summary>Body of <c>POST /api/v1/commands/request-signup</c>.</summary>
/// <param name="Email">The address to sign up; at most 254 characters.</param>
/// <param name="DisplayName">How to greet the person; at most 100 characters.</param>
public sealed record RequestSignupBody(string Email, string? DisplayName);

/// <summary>Body of <c>POST /api/v1/commands/verify-email</c>.</summary>
/// <param name="SignupId">The signup (the RequestSignup command's id) whose address the person verified.</param>
public sealed record VerifyEmailBody(Guid SignupId);

/// <summary>Body of <c>POST /api/v1/commands/publish-event</c>.</summary>
/// <param name="MessageType">Full name of a contract registered as publishable, e.g. <c>EventBackbone.Contracts.Payments.PaymentReceived</c>.</param>
/// <param name="Message">The contract's fields, as JSON.</param>
public sealed record PublishEventBody(string MessageType, JsonElement Message);
