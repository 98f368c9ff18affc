namespace EventBackbone.Contracts.Users;

/// <summary>No account was created for a signup, and why (e.g. <c>email-taken</c>).</summary>
/// <param name="SignupId">The signup that asked for it.</param>
/// <param name="Email">The address that was asked for.</param>
/// <param name="Reason">A stable, machine-readable reason: <c>email-taken</c> or <c>email-invalid</c>.</param>
/// <param name="RejectedAt">When the Users service decided.</param>
public record UserAccountRejected(
    Guid SignupId,
    string Email,
    string Reason,
    DateTimeOffset RejectedAt);
