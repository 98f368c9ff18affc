namespace EventBackbone.Contracts.Signups;

/// <summary>A signup ended without an account; Reason is the Users service's (e.g. email-taken).</summary>
public record SignupRejected(Guid SignupId, string Reason, DateTimeOffset RejectedAt);
