namespace EventBackbone.Contracts.Users;

/// <summary>The account for a signup exists.</summary>
/// <param name="SignupId">The signup that asked for it.</param>
/// <param name="UserId">The new account's id.</param>
/// <param name="Email">The account's email address as stored.</param>
/// <param name="CreatedAt">When the account was created.</param>
public record UserAccountCreated(
    Guid SignupId,
    Guid UserId,
    string Email,
    DateTimeOffset CreatedAt);
