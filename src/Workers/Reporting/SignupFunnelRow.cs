namespace EventBackbone.Workers.Reporting;

/// <summary>One signup's way through the funnel (table <c>report_signup_funnel</c>); events may arrive in any order.</summary>
public sealed class SignupFunnelRow
{
    public Guid SignupId { get; set; }

    public DateTimeOffset? RequestedAt { get; set; }

    public DateTimeOffset? AccountCreatedAt { get; set; }

    public DateTimeOffset? WelcomedAt { get; set; }

    public DateTimeOffset? VerifiedAt { get; set; }

    public DateTimeOffset? ExpiredAt { get; set; }

    public DateTimeOffset? RejectedAt { get; set; }
}
