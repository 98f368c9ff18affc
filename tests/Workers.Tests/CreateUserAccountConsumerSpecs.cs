using EventBackbone.Contracts.Users;
using EventBackbone.Workers.Users;
using MassTransit;
using MassTransit.Testing;

namespace EventBackbone.Workers.Tests;

public sealed class CreateUserAccountConsumerSpecs : IAsyncLifetime
{
    private readonly WorkersHarness _workers = new();

    private ITestHarness Harness => _workers.Harness;

    public Task InitializeAsync() => _workers.StartAsync();

    public async Task DisposeAsync() => await _workers.DisposeAsync();

    [Fact]
    public async Task A_new_address_gets_an_account_and_UserAccountCreated()
    {
        var signupId = NewId.NextGuid();

        await Harness.Bus.Publish(new CreateUserAccount(signupId, " ada@example.com ", "Ada"));

        var created = await Harness.Published.SelectAsync<UserAccountCreated>(x => x.Context.Message.SignupId == signupId).FirstOrDefault();
        Assert.NotNull(created);
        Assert.Equal("ada@example.com", created.Context.Message.Email);
        var account = Assert.Single(await _workers.QueryAsync(db => db.UserAccounts.Where(x => x.SignupId == signupId)));
        Assert.Equal(created.Context.Message.UserId, account.UserId);
        Assert.Equal("ada@example.com", account.NormalizedEmail);
    }

    [Fact]
    public async Task A_second_signup_for_the_same_address_in_any_case_is_rejected_as_email_taken()
    {
        var first = NewId.NextGuid();
        var second = NewId.NextGuid();
        await Harness.Bus.Publish(new CreateUserAccount(first, "grace@example.com", null));
        Assert.True(await Harness.Published.Any<UserAccountCreated>(x => x.Context.Message.SignupId == first));

        await Harness.Bus.Publish(new CreateUserAccount(second, "Grace@Example.COM", null));

        var rejected = await Harness.Published.SelectAsync<UserAccountRejected>(x => x.Context.Message.SignupId == second).FirstOrDefault();
        Assert.NotNull(rejected);
        Assert.Equal(CreateUserAccountConsumer.EmailTaken, rejected.Context.Message.Reason);
        Assert.False(await Harness.Published.Any<Fault<CreateUserAccount>>());
        Assert.Single(await _workers.QueryAsync(db => db.UserAccounts.Where(x => x.NormalizedEmail == "grace@example.com")));
    }

    [Fact]
    public async Task The_same_signup_asking_twice_gets_the_same_account_again()
    {
        var signupId = NewId.NextGuid();

        await Harness.Bus.Publish(new CreateUserAccount(signupId, "twice@example.com", null));
        Assert.True(await Harness.Published.Any<UserAccountCreated>(x => x.Context.Message.SignupId == signupId));
        await Harness.Bus.Publish(new CreateUserAccount(signupId, "twice@example.com", null));
        await Harness.InactivityTask;

        var answers = Harness.Published.Select<UserAccountCreated>(x => x.Context.Message.SignupId == signupId).ToList();
        Assert.Equal(2, answers.Count);
        Assert.Single(answers.Select(x => x.Context.Message.UserId).Distinct());
        Assert.False(await Harness.Published.Any<UserAccountRejected>(x => x.Context.Message.SignupId == signupId));
    }

    [Fact]
    public async Task An_address_that_is_not_one_is_rejected_as_email_invalid_without_a_fault()
    {
        var signupId = NewId.NextGuid();

        await Harness.Bus.Publish(new CreateUserAccount(signupId, "not-an-address", null));

        var rejected = await Harness.Published.SelectAsync<UserAccountRejected>(x => x.Context.Message.SignupId == signupId).FirstOrDefault();
        Assert.NotNull(rejected);
        Assert.Equal(CreateUserAccountConsumer.EmailInvalid, rejected.Context.Message.Reason);
        Assert.False(await Harness.Published.Any<Fault<CreateUserAccount>>());
    }
}
