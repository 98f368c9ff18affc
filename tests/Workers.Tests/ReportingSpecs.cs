using EventBackbone.Contracts.Notifications;
using EventBackbone.Contracts.Signups;
using EventBackbone.Contracts.Users;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Workers.Reporting;
using MassTransit;
using MassTransit.Testing;

namespace EventBackbone.Workers.Tests;

public sealed class ReportingSpecs : IAsyncLifetime
{
    private readonly WorkersHarness _workers = new();

    private ITestHarness Harness => _workers.Harness;

    public Task InitializeAsync() => _workers.StartAsync();

    public async Task DisposeAsync() => await _workers.DisposeAsync();

    [Fact]
    public async Task The_funnel_row_records_each_stage_of_a_signup_even_out_of_order()
    {
        var signupId = NewId.NextGuid();
        var at = DateTimeOffset.UtcNow;

        // Account creation arrives before the request it answers.
        await Harness.Bus.Publish(new UserAccountCreated(signupId, NewId.NextGuid(), "ada@example.com", at.AddSeconds(1)));
        await Harness.Bus.Publish(new SignupRequested(signupId, "ada@example.com", null, at));
        await Harness.Bus.Publish(new NotificationSent(NewId.NextGuid(), signupId, "welcome", at.AddSeconds(2)));
        await Harness.Bus.Publish(new NotificationSent(NewId.NextGuid(), signupId, "verification-reminder", at.AddSeconds(3)));
        await Harness.Bus.Publish(new SignupCompleted(signupId, NewId.NextGuid(), at.AddSeconds(4)));

        await WaitForConsumedAsync<SignupCompleted>(5);
        var row = Assert.Single(await _workers.QueryAsync(db => db.SignupFunnel.Where(x => x.SignupId == signupId)));
        Assert.Equal(at, row.RequestedAt);
        Assert.Equal(at.AddSeconds(1), row.AccountCreatedAt);
        Assert.Equal(at.AddSeconds(2), row.WelcomedAt);
        Assert.Equal(at.AddSeconds(4), row.VerifiedAt);
        Assert.Null(row.ExpiredAt);
        Assert.Null(row.RejectedAt);
    }

    [Fact]
    public async Task Webhooks_are_counted_per_source_type_and_hour()
    {
        var hour = new DateTimeOffset(2026, 11, 28, 10, 0, 0, TimeSpan.Zero);
        foreach (var (source, type, minute) in new[] { ("github", "push", 1), ("github", "push", 59), ("github", "issues", 5), ("stripe", null, 7) })
        {
            await Harness.Bus.Publish(new WebhookReceived(NewId.NextGuid(), source, type, hour.AddMinutes(minute), "application/json", "{}"));
        }

        await Harness.Bus.Publish(new WebhookReceived(NewId.NextGuid(), "github", "push", hour.AddHours(1), "application/json", "{}"));

        await WaitForConsumedAsync<WebhookReceived>(5);
        var counts = (await _workers.QueryAsync(db => db.WebhookHourly))
            .OrderBy(x => x.Hour).ThenBy(x => x.Source).ThenBy(x => x.EventType, StringComparer.Ordinal)
            .Select(x => (x.Source, x.EventType, x.Hour, x.Count)).ToList();
        Assert.Equal(
            [("github", "issues", hour, 1L), ("github", "push", hour, 2L), ("stripe", "", hour, 1L), ("github", "push", hour.AddHours(1), 1L)],
            counts);
    }

    private async Task WaitForConsumedAsync<T>(int count)
        where T : class
    {
        var consumer = typeof(T) == typeof(WebhookReceived)
            ? Harness.GetConsumerHarness<WebhookVolumeConsumer>().Consumed
            : Harness.GetConsumerHarness<SignupFunnelConsumer>().Consumed;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (consumer.Select(_ => true).Count() < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Harness.InactivityTask;
    }
}
