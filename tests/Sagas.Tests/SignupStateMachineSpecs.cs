using EventBackbone.Contracts.Notifications;
using EventBackbone.Contracts.Signups;
using EventBackbone.Contracts.Users;
using EventBackbone.Sagas.Signups;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Sagas.Tests;

public sealed class SignupStateMachineSpecs : IAsyncLifetime
{
    /// <summary>Short, so the timeout specs run in seconds; long enough that nothing else races it.</summary>
    private static readonly TimeSpan VerificationTimeout = TimeSpan.FromSeconds(2);

    private readonly ServiceProvider _provider = new ServiceCollection()
        .AddSingleton(new SignupSettings(VerificationTimeout))
        .AddMassTransitTestHarness(bus =>
        {
            bus.AddSagaStateMachine<SignupStateMachine, SignupState>().InMemoryRepository();
            bus.AddDelayedMessageScheduler();
            bus.UsingInMemory((context, cfg) =>
            {
                cfg.UseDelayedMessageScheduler();
                cfg.ConfigureEndpoints(context);
            });
        })
        // The harness's default 1.2 s of "inactivity" before an awaited message counts as absent was too short on a
        // loaded 2-core machine (a SignupExpired published 2 s late was reported missing).
        .Configure<TestHarnessOptions>(options => options.TestInactivityTimeout = TimeSpan.FromSeconds(3))
        .BuildServiceProvider(validateScopes: true);

    private ITestHarness Harness => _provider.GetRequiredService<ITestHarness>();

    private ISagaStateMachineTestHarness<SignupStateMachine, SignupState> Saga =>
        Harness.GetSagaStateMachineHarness<SignupStateMachine, SignupState>();

    private SignupStateMachine Machine => Saga.StateMachine;

    public Task InitializeAsync() => Harness.Start();

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    [Fact]
    public async Task When_a_signup_is_requested_it_asks_the_Users_service_for_an_account()
    {
        var signupId = await RequestAsync("ada@example.com");

        Assert.NotNull(await Saga.Exists(signupId, x => x.CreatingAccount));
        var sent = await Harness.Sent.SelectAsync<CreateUserAccount>(x => x.Context.Message.SignupId == signupId).FirstOrDefault();
        Assert.NotNull(sent);
        Assert.Equal("ada@example.com", sent.Context.Message.Email);
        Assert.Equal(SignupStateMachine.CreateUserAccountQueue.AbsolutePath, sent.Context.DestinationAddress!.AbsolutePath.TrimStart('/'));
    }

    [Fact]
    public async Task A_duplicate_request_asks_for_one_account_only()
    {
        var signupId = await RequestAsync("dup@example.com");
        await Harness.Bus.Publish(new SignupRequested(signupId, "dup@example.com", null, DateTimeOffset.UtcNow));
        await Harness.InactivityTask;

        Assert.Single(Harness.Sent.Select<CreateUserAccount>(x => x.Context.Message.SignupId == signupId));
        Assert.False(await Harness.Published.Any<Fault<SignupRequested>>());
    }

    [Fact]
    public async Task When_the_account_is_created_it_sends_the_welcome_and_waits_for_verification()
    {
        var signupId = await AccountCreatedAsync("welcome@example.com");

        var welcome = await Harness.Sent.SelectAsync<SendNotification>(x => x.Context.Message.CorrelationId == signupId).FirstOrDefault();
        Assert.NotNull(welcome);
        Assert.Equal("welcome", welcome.Context.Message.Template);
        Assert.Equal("welcome@example.com", welcome.Context.Message.Recipient);
    }

    [Fact]
    public async Task When_the_account_is_rejected_the_signup_ends_Rejected_with_the_reason()
    {
        var signupId = await RequestAsync("taken@example.com");

        await Harness.Bus.Publish(new UserAccountRejected(signupId, "taken@example.com", "email-taken", DateTimeOffset.UtcNow));

        Assert.NotNull(await Saga.Exists(signupId, x => x.Rejected));
        var rejected = await Harness.Published.SelectAsync<SignupRejected>(x => x.Context.Message.SignupId == signupId).FirstOrDefault();
        Assert.NotNull(rejected);
        Assert.Equal("email-taken", rejected.Context.Message.Reason);
        Assert.Empty(Harness.Sent.Select<SendNotification>(x => x.Context.Message.CorrelationId == signupId));
    }

    [Fact]
    public async Task When_the_address_is_verified_the_signup_completes_and_its_timeout_never_fires()
    {
        var signupId = await AccountCreatedAsync("verify@example.com");

        await Harness.Bus.Publish(new EmailVerified(signupId, DateTimeOffset.UtcNow));

        Assert.NotNull(await Saga.Exists(signupId, x => x.Completed));
        Assert.True(await Harness.Published.Any<SignupCompleted>(x => x.Context.Message.SignupId == signupId));
        // Past the verification timeout: a cancelled timeout must not send a reminder.
        await Task.Delay(VerificationTimeout * 2);
        await Harness.InactivityTask;
        Assert.DoesNotContain(Harness.Sent.Select<SendNotification>(x => x.Context.Message.CorrelationId == signupId), x => x.Context.Message.Template == "verification-reminder");
        Assert.Equal(0, Saga.Sagas.Contains(signupId)!.RemindersSent);
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
    public async Task Without_verification_one_reminder_is_sent_and_then_the_signup_expires()
    {
        var signupId = await AccountCreatedAsync("late@example.com");

        Assert.NotNull(await Saga.Exists(signupId, x => x.Expired, VerificationTimeout * 5));

        var notifications = Harness.Sent.Select<SendNotification>(x => x.Context.Message.CorrelationId == signupId)
            .Select(x => x.Context.Message.Template).ToList();
        Assert.Equal(["welcome", "verification-reminder"], notifications);
        Assert.True(await Harness.Published.Any<SignupExpired>(x => x.Context.Message.SignupId == signupId));
        Assert.Equal(1, Saga.Sagas.Contains(signupId)!.RemindersSent);
    }

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
    public async Task A_verification_for_an_unknown_signup_is_dropped_without_a_fault()
    {
        var unknown = NewId.NextGuid();

        await Harness.Bus.Publish(new EmailVerified(unknown, DateTimeOffset.UtcNow));
        await Harness.InactivityTask;

        Assert.Null(Saga.Sagas.Contains(unknown));
        Assert.False(await Harness.Published.Any<Fault<EmailVerified>>());
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

    private async Task<Guid> RequestAsync(string email)
    {
        var signupId = NewId.NextGuid();
        await Harness.Bus.Publish(new SignupRequested(signupId, email, null, DateTimeOffset.UtcNow));
        Assert.NotNull(await Saga.Exists(signupId, x => x.CreatingAccount));
        return signupId;
    }

    private async Task<Guid> AccountCreatedAsync(string email)
    {
        var signupId = await RequestAsync(email);
        await Harness.Bus.Publish(new UserAccountCreated(signupId, NewId.NextGuid(), email, DateTimeOffset.UtcNow));
        Assert.NotNull(await Saga.Exists(signupId, x => x.AwaitingVerification));
        return signupId;
    }
}
