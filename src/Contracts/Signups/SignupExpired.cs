namespace EventBackbone.Contracts.Signups;

/// <summary>A signup ended because its email address was not verified in time, even after a reminder.</summary>
public record SignupExpired(Guid SignupId, DateTimeOffset ExpiredAt);
