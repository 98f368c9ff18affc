namespace EventBackbone.Contracts.Signups;

/// <summary>The signup saga's own timeout: its email address was not verified within the configured time.</summary>
public record VerificationTimeoutExpired(Guid SignupId);
