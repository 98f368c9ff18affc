using EventBackbone.Contracts.Notifications;
using EventBackbone.Contracts.Signups;
using EventBackbone.Contracts.Users;
using MassTransit;

namespace EventBackbone.Sagas.Signups;

/// <summary>
/// Signup onboarding: account → welcome notification → email verification, with a durable timeout that sends one
/// reminder and then expires the signup. Every terminal state ignores whatever still arrives, so duplicates and late
/// events cannot reopen a finished signup.
/// </summary>
public sealed class SignupStateMachine : MassTransitStateMachine<SignupState>
{
    // Each is the consumer's endpoint address (its exchange, bound to its queue), as MassTransit addresses a receive
    // endpoint itself. Not "queue:": for that address MassTransit declares the queue on the first send, as a classic
    // queue, and with Backbone:RabbitMq:QuorumQueues the broker refuses that declaration of a quorum queue
    // (PRECONDITION_FAILED "inequivalent arg 'x-queue-type'"), so the command was never sent (QuorumQueueWorkflowSpecs).
    public static readonly Uri CreateUserAccountQueue = new("exchange:create-user-account");
    public static readonly Uri SendNotificationQueue = new("exchange:send-notification");

    public SignupStateMachine(SignupSettings settings)
    {
        InstanceState(x => x.CurrentState);

        Event(() => Requested, x =>
        {
            x.CorrelateById(context => context.Message.SignupId);
            // Pre-inserts the row, so a duplicate SignupRequested racing the first meets the primary key.
            x.InsertOnInitial = true;
            x.SetSagaFactory(context => new SignupState
            {
                CorrelationId = context.Message.SignupId,
                Email = context.Message.Email,
                DisplayName = context.Message.DisplayName,
                RequestedAt = context.Message.RequestedAt,
            });
        });
        Event(() => AccountCreated, x => x.CorrelateById(context => context.Message.SignupId));
        Event(() => AccountRejected, x => x.CorrelateById(context => context.Message.SignupId));
        Event(() => NotificationSent, x => x.CorrelateById(context => context.Message.CorrelationId));
        Event(() => NotificationFailed, x => x.CorrelateById(context => context.Message.CorrelationId));
        // A verification for a signup that does not exist (a typo, a stale link) is dropped, not an endless fault.
        Event(() => Verified, x =>
        {
            x.CorrelateById(context => context.Message.SignupId);
            x.OnMissingInstance(missing => missing.Discard());
        });
        Schedule(() => VerificationTimeout, x => x.VerificationTimeoutTokenId, timeout =>
        {
            timeout.Delay = settings.VerificationTimeout;
            timeout.Received = received => received.CorrelateById(context => context.Message.SignupId);
        });

        Initially(
            When(Requested)
                .Then(context => Note(context, $"Signup requested for {context.Message.Email}"))
                .Send(CreateUserAccountQueue, context => new CreateUserAccount(context.Saga.CorrelationId, context.Saga.Email, context.Saga.DisplayName))
                .TransitionTo(CreatingAccount));

        During(CreatingAccount,
            Ignore(Requested),
            When(AccountCreated)
                .Then(context =>
                {
                    context.Saga.UserId = context.Message.UserId;
                    Note(context, "Account created");
                })
                .Send(SendNotificationQueue, context => Notification(context.Saga, "welcome"))
                .IfElse(context => context.Saga.VerifiedEarly,
                    verified => verified.Then(context => Note(context, "Email address verified before the account existed")).TransitionTo(Completed),
                    waiting => waiting.Schedule(VerificationTimeout, context => new VerificationTimeoutExpired(context.Saga.CorrelationId))
                        .TransitionTo(AwaitingVerification)),
            When(AccountRejected)
                .Then(context =>
                {
                    context.Saga.RejectionReason = context.Message.Reason;
                    Note(context, $"Account rejected: {context.Message.Reason}");
                })
                .TransitionTo(Rejected),
            // Verified before the account exists: remembered, and the signup completes once the account is created.
            When(Verified)
                .Then(context =>
                {
                    context.Saga.VerifiedEarly = true;
                    Note(context, "Email verification received before the account was created");
                }));

        During(AwaitingVerification,
            Ignore(Requested),
            Ignore(AccountCreated),
            When(Verified)
                .Unschedule(VerificationTimeout)
                .Then(context => Note(context, "Email address verified"))
                .TransitionTo(Completed),
            // One handler deciding once: as two filtered When(...) bindings of the same event, MassTransit evaluated
            // the second filter after the first binding had already counted the reminder, so every signup expired in
            // the same instant as its reminder instead of one verification timeout later.
            When(VerificationTimeout.Received)
                .IfElse(context => context.Saga.RemindersSent == 0,
                    first => first
                        .Then(context =>
                        {
                            context.Saga.RemindersSent++;
                            Note(context, "Not verified in time: reminder sent");
                        })
                        .Send(SendNotificationQueue, context => Notification(context.Saga, "verification-reminder"))
                        .Schedule(VerificationTimeout, context => new VerificationTimeoutExpired(context.Saga.CorrelationId)),
                    again => again
                        .Then(context => Note(context, "Not verified after the reminder: expired"))
                        .TransitionTo(Expired)));

        DuringAny(
            When(NotificationSent)
                .Then(context => Note(context, $"Notification '{context.Message.Template}' sent")),
            When(NotificationFailed)
                .Then(context =>
                {
                    // Recorded, and the signup still waits for verification: the person may verify some other way.
                    context.Saga.LastNotificationFailure = context.Message.Reason;
                    Note(context, $"Notification '{context.Message.Template}' failed: {context.Message.Reason}");
                }));

        // Terminal: the row is kept, so its state and history can still be read.
        During(Completed, Rejected, Expired,
            Ignore(Requested),
            Ignore(AccountCreated),
            Ignore(AccountRejected),
            Ignore(Verified),
            Ignore(VerificationTimeout.Received));

        WhenEnter(Completed, binder => binder
            .Then(context => context.Saga.EndedAt = DateTimeOffset.UtcNow)
            .Publish(context => new SignupCompleted(context.Saga.CorrelationId, context.Saga.UserId!.Value, context.Saga.EndedAt!.Value)));
        WhenEnter(Rejected, binder => binder
            .Then(context => context.Saga.EndedAt = DateTimeOffset.UtcNow)
            .Publish(context => new SignupRejected(context.Saga.CorrelationId, context.Saga.RejectionReason ?? "unknown", context.Saga.EndedAt!.Value)));
        WhenEnter(Expired, binder => binder
            .Then(context => context.Saga.EndedAt = DateTimeOffset.UtcNow)
            .Publish(context => new SignupExpired(context.Saga.CorrelationId, context.Saga.EndedAt!.Value)));
    }

    public State CreatingAccount { get; private set; } = null!;

    public State AwaitingVerification { get; private set; } = null!;

    public State Completed { get; private set; } = null!;

    public State Rejected { get; private set; } = null!;

    public State Expired { get; private set; } = null!;

    public Event<SignupRequested> Requested { get; private set; } = null!;

    public Event<UserAccountCreated> AccountCreated { get; private set; } = null!;

    public Event<UserAccountRejected> AccountRejected { get; private set; } = null!;

    public Event<NotificationSent> NotificationSent { get; private set; } = null!;

    public Event<NotificationFailed> NotificationFailed { get; private set; } = null!;

    public Event<EmailVerified> Verified { get; private set; } = null!;

    public Schedule<SignupState, VerificationTimeoutExpired> VerificationTimeout { get; private set; } = null!;

    private static SendNotification Notification(SignupState signup, string template) => new(
        NewId.NextGuid(),
        signup.CorrelationId,
        "email",
        template,
        signup.Email,
        new Dictionary<string, string>
        {
            ["signupId"] = signup.CorrelationId.ToString(),
            ["displayName"] = signup.DisplayName ?? signup.Email,
        });

    private static void Note(BehaviorContext<SignupState> context, string what) =>
        SignupHistory.Append(context.Saga, DateTimeOffset.UtcNow, what);
}
