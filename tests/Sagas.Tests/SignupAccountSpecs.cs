using MassTransit.Testing;

namespace EventBackbone.Sagas.Tests;

/// <summary>What the signup asks of the Users service, and what it does with the answer.</summary>
public sealed class SignupAccountSpecs : SignupHarness
{
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
}
