namespace EventBackbone.Contracts.Users;

/// <summary>Create the user account for a signup. Sent to the queue <c>create-user-account</c> (the Users service).</summary>
/// <param name="SignupId">The signup asking for the account; the reply events carry it back.</param>
/// <param name="Email">The address to create the account for; unique across accounts, compared case-insensitively.</param>
/// <param name="DisplayName">How to greet the person, when given.</param>
public record CreateUserAccount(
    Guid SignupId,
    string Email,
    string? DisplayName);
