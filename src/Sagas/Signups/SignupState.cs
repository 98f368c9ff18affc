using MassTransit;

namespace EventBackbone.Sagas.Signups;

/// <summary>One signup's onboarding, as the saga keeps it (table <c>signup_states</c> in the Sagas database).</summary>
public sealed class SignupState : SagaStateMachineInstance, ISagaVersion
{
    /// <summary>The signup id (the RequestSignup command's id).</summary>
    public Guid CorrelationId { get; set; }

    public int Version { get; set; }

    /// <summary>Null until the first event is applied: InsertOnInitial writes the row before the machine sets a state.</summary>
    public string? CurrentState { get; set; }

    public string Email { get; set; } = "";

    public string? DisplayName { get; set; }

    public Guid? UserId { get; set; }

    public DateTimeOffset RequestedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>Set when EmailVerified arrived before the account existed; the signup completes as soon as it does.</summary>
    public bool VerifiedEarly { get; set; }

    public int RemindersSent { get; set; }

    public string? RejectionReason { get; set; }

    public string? LastNotificationFailure { get; set; }

    /// <summary>The scheduled verification timeout, so that verifying cancels it.</summary>
    public Guid? VerificationTimeoutTokenId { get; set; }

    /// <summary>What happened, oldest first, as JSON (<see cref="SignupHistory"/>): what support staff read.</summary>
    public string History { get; set; } = "[]";
}
