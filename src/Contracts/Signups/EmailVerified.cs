namespace EventBackbone.Contracts.Signups;

/// <summary>The person behind a signup proved they own its email address. Published for the VerifyEmail command.</summary>
/// <param name="SignupId">The signup whose address was verified.</param>
/// <param name="VerifiedAt">When the edge accepted the command.</param>
public record EmailVerified(
    Guid SignupId,
    DateTimeOffset VerifiedAt);
