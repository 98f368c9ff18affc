namespace EventBackbone.Sagas.Tests;

/// <summary>Events out of the usual order or for no signup, failed notifications, and the history a signup records.</summary>
public sealed class SignupRecordSpecs : SignupHarness
{
    [Fact]
    public async Task A_failed_notification_is_recorded_and_the_signup_still_waits_for_verification()
    {
        var signupId = await AccountCreatedAsync("nomail@example.com");

        await Harness.Bus.Publish(new NotificationFailed(NewId.NextGuid(), signupId, "welcome", "provider down", DateTimeOffset.UtcNow));
        // Not InactivityTask: it would also wait out the verification timeout this spec is not about.
        Assert.True(await Saga.Consumed.Any<NotificationFailed>(x => x.Context.Message.CorrelationId == signupId));

        var signup = Saga.Sagas.Contains(signupId)!;
        Assert.Equal("provider down", signup.LastNotificationFailure);
        Assert.Equal(Machine.AwaitingVerification.Name, signup.CurrentState);
        await Harness.Bus.Publish(new EmailVerified(signupId, DateTimeOffset.UtcNow));
        Assert.NotNull(await Saga.Exists(signupId, x => x.Completed));
    }

    [Fact]
    public async Task Late_and_duplicate_events_leave_a_finished_signup_as_it_ended()
    {
        var signupId = await AccountCreatedAsync("done@example.com");
        await Harness.Bus.Publish(new EmailVerified(signupId, DateTimeOffset.UtcNow));
        Assert.NotNull(await Saga.Exists(signupId, x => x.Completed));

        await Harness.Bus.Publish(new UserAccountRejected(signupId, "done@example.com", "email-taken", DateTimeOffset.UtcNow));
        await Harness.Bus.Publish(new EmailVerified(signupId, DateTimeOffset.UtcNow));
        await Harness.Bus.Publish(new SignupRequested(signupId, "done@example.com", null, DateTimeOffset.UtcNow));
        await Harness.InactivityTask;

        Assert.Equal(Machine.Completed.Name, Saga.Sagas.Contains(signupId)!.CurrentState);
        Assert.Single(Harness.Published.Select<SignupCompleted>(x => x.Context.Message.SignupId == signupId));
        Assert.False(await Harness.Published.Any<SignupRejected>(x => x.Context.Message.SignupId == signupId));
        Assert.False(await Harness.Published.Any<Fault>());
    }

    [Fact]
    public async Task The_history_tells_what_happened_in_order()
    {
        var signupId = await AccountCreatedAsync("story@example.com");
        await Harness.Bus.Publish(new EmailVerified(signupId, DateTimeOffset.UtcNow));
        Assert.NotNull(await Saga.Exists(signupId, x => x.Completed));

        var history = SignupHistory.Read(Saga.Sagas.Contains(signupId)!).Select(x => x.What).ToList();

        Assert.Equal(["Signup requested for story@example.com", "Account created", "Email address verified"], history);
    }

    [Fact]
    public async Task A_verification_that_arrives_before_the_account_completes_the_signup_once_the_account_exists()
    {
        var signupId = await RequestAsync("early@example.com");
        await Harness.Bus.Publish(new EmailVerified(signupId, DateTimeOffset.UtcNow));
        Assert.True((await Saga.Exists(signupId, x => x.CreatingAccount)).HasValue);
        await Harness.InactivityTask;
        Assert.True(Saga.Sagas.Contains(signupId)!.VerifiedEarly);

        await Harness.Bus.Publish(new UserAccountCreated(signupId, NewId.NextGuid(), "early@example.com", DateTimeOffset.UtcNow));

        Assert.NotNull(await Saga.Exists(signupId, x => x.Completed));
        // The welcome is still sent: the account is new.
        Assert.True(await Harness.Sent.Any<SendNotification>(x => x.Context.Message.CorrelationId == signupId && x.Context.Message.Template == "welcome"));
    }

    [Fact]
    public async Task A_verification_for_an_unknown_signup_is_dropped_without_a_fault()
    {
        var unknown = NewId.NextGuid();

        await Harness.Bus.Publish(new EmailVerified(unknown, DateTimeOffset.UtcNow));
        await Harness.InactivityTask;

        Assert.Null(Saga.Sagas.Contains(unknown));
        Assert.False(await Harness.Published.Any<Fault<EmailVerified>>());
    }
}
