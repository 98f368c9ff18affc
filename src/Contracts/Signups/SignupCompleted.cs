namespace EventBackbone.Contracts.Signups;

/// <summary>A signup finished: its account exists and its email address is verified.</summary>
public record SignupCompleted(Guid SignupId, Guid UserId, DateTimeOffset CompletedAt);
