namespace EventBackbone.Contracts.Signups;

/// <summary>A person asked to sign up; the signup onboarding saga starts here. Published for the RequestSignup command.</summary>
/// <param name="SignupId">The signup's id, also the id of the command that requested it.</param>
/// <param name="Email">The address to create the account for, as given (trimmed).</param>
/// <param name="DisplayName">The name to greet the person with, when given.</param>
/// <param name="RequestedAt">When the edge accepted the command.</param>
public record SignupRequested(
    Guid SignupId,
    string Email,
    string? DisplayName,
    DateTimeOffset RequestedAt);
