using EventBackbone.Contracts.Notifications;
using EventBackbone.Contracts.Signups;
using EventBackbone.Contracts.Users;
using EventBackbone.Workers.Persistence;
using MassTransit;

namespace EventBackbone.Workers.Reporting;

/// <summary>
/// Keeps the signup funnel read model: each event stamps its stage on the signup's row, creating the row if the event
/// arrived before SignupRequested. Stamps are set once, so a redelivered or duplicate event changes nothing.
/// </summary>
public sealed class SignupFunnelConsumer(WorkersDbContext db) :
    IConsumer<SignupRequested>,
    IConsumer<UserAccountCreated>,
    IConsumer<NotificationSent>,
    IConsumer<SignupCompleted>,
    IConsumer<SignupExpired>,
    IConsumer<SignupRejected>
{
    public Task Consume(ConsumeContext<SignupRequested> context) =>
        StampAsync(context.Message.SignupId, row => row.RequestedAt ??= context.Message.RequestedAt, context.CancellationToken);

    public Task Consume(ConsumeContext<UserAccountCreated> context) =>
        StampAsync(context.Message.SignupId, row => row.AccountCreatedAt ??= context.Message.CreatedAt, context.CancellationToken);

    public Task Consume(ConsumeContext<NotificationSent> context) =>
        context.Message.Template == "welcome"
            ? StampAsync(context.Message.CorrelationId, row => row.WelcomedAt ??= context.Message.SentAt, context.CancellationToken)
            : Task.CompletedTask;

    public Task Consume(ConsumeContext<SignupCompleted> context) =>
        StampAsync(context.Message.SignupId, row => row.VerifiedAt ??= context.Message.CompletedAt, context.CancellationToken);

    public Task Consume(ConsumeContext<SignupExpired> context) =>
        StampAsync(context.Message.SignupId, row => row.ExpiredAt ??= context.Message.ExpiredAt, context.CancellationToken);

    public Task Consume(ConsumeContext<SignupRejected> context) =>
        StampAsync(context.Message.SignupId, row => row.RejectedAt ??= context.Message.RejectedAt, context.CancellationToken);

    private async Task StampAsync(Guid signupId, Action<SignupFunnelRow> stamp, CancellationToken cancellationToken)
    {
        var row = await db.SignupFunnel.FindAsync([signupId], cancellationToken);
        if (row is null)
        {
            row = new SignupFunnelRow { SignupId = signupId };
            // Two events of one signup inserting at once: the loser's unique violation is retried by the definition,
            // and then finds the row.
            db.SignupFunnel.Add(row);
        }

        stamp(row);
        await db.SaveChangesAsync(cancellationToken);
    }
}
