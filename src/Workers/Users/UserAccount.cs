namespace EventBackbone.Workers.Users;

/// <summary>A user account, owned by the Users module (table <c>user_accounts</c> in the workers' database).</summary>
public sealed class UserAccount
{
    public Guid UserId { get; set; }

    /// <summary>The signup that created it: a repeated CreateUserAccount for it answers with this account.</summary>
    public Guid SignupId { get; set; }

    public required string Email { get; set; }

    /// <summary>Lowercased: unique, so "Ada@Example.com" and "ada@example.com" cannot both have an account.</summary>
    public required string NormalizedEmail { get; set; }

    public string? DisplayName { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
