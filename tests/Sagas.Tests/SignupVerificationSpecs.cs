namespace EventBackbone.Sagas.Tests;

/// <summary>Email verification against its durable timeout: completed before it, or reminded and then expired by it.</summary>
public sealed class SignupVerificationSpecs : SignupHarness
{
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
}
