using EventBackbone.Contracts.Notifications;
using EventBackbone.Workers.Notifications;
using MassTransit;
using MassTransit.Testing;

namespace EventBackbone.Workers.Tests;

public sealed class SendNotificationConsumerSpecs
{
    [Fact]
    public async Task A_notification_the_provider_accepts_is_recorded_as_sent_and_NotificationSent_is_published()
    {
        var provider = new FakeNotificationProvider();
        await using var workers = new WorkersHarness(provider);
        await workers.StartAsync();
        var notification = NewNotification();

        await workers.Harness.Bus.Publish(notification);

        var sent = await workers.Harness.Published.SelectAsync<NotificationSent>(x => x.Context.Message.NotificationId == notification.NotificationId).FirstOrDefault();
        Assert.NotNull(sent);
        Assert.Equal(notification.CorrelationId, sent.Context.Message.CorrelationId);
        Assert.Equal("welcome", sent.Context.Message.Template);
        Assert.Equal(notification.NotificationId, Assert.Single(provider.Calls).NotificationId);
        Assert.Equal("sent", Assert.Single(await workers.QueryAsync(db => db.Notifications)).Status);
    }

    [Fact]
    public async Task A_notification_the_provider_refuses_for_good_is_recorded_as_failed_without_a_fault()
    {
        await using var workers = new WorkersHarness(new FakeNotificationProvider(_ => "The provider refused it: 422"));
        await workers.StartAsync();
        var notification = NewNotification();

        await workers.Harness.Bus.Publish(notification);

        var failed = await workers.Harness.Published.SelectAsync<NotificationFailed>(x => x.Context.Message.NotificationId == notification.NotificationId).FirstOrDefault();
        Assert.NotNull(failed);
        Assert.Contains("422", failed.Context.Message.Reason, StringComparison.Ordinal);
        Assert.False(await workers.Harness.Published.Any<Fault<SendNotification>>());
        Assert.Equal("failed", Assert.Single(await workers.QueryAsync(db => db.Notifications)).Status);
    }

    [Fact]
    public async Task When_the_provider_is_still_unavailable_at_the_last_redelivery_the_notification_is_recorded_as_failed()
    {
        // No redeliveries configured: the first attempt is the last one.
        var provider = new UnavailableProvider();
        await using var workers = new WorkersHarness(provider, new NotificationSettings(null, []));
        await workers.StartAsync();
        var notification = NewNotification();

        await workers.Harness.Bus.Publish(notification);

        var failed = await workers.Harness.Published.SelectAsync<NotificationFailed>(x => x.Context.Message.NotificationId == notification.NotificationId).FirstOrDefault();
        Assert.NotNull(failed);
        Assert.Contains("unavailable", failed.Context.Message.Reason, StringComparison.Ordinal);
        Assert.False(await workers.Harness.Published.Any<NotificationSent>(x => x.Context.Message.NotificationId == notification.NotificationId));
        // Immediate retries skip an unavailable provider: the HTTP pipeline already retried it.
        Assert.Equal(1, provider.Calls);
    }

    [Fact]
    public async Task A_notification_already_decided_is_answered_again_without_calling_the_provider()
    {
        var provider = new FakeNotificationProvider();
        await using var workers = new WorkersHarness(provider);
        await workers.StartAsync();
        var notification = NewNotification();
        await workers.Harness.Bus.Publish(notification);
        Assert.True(await workers.Harness.Published.Any<NotificationSent>(x => x.Context.Message.NotificationId == notification.NotificationId));

        // The same notification again, as a new message (so the inbox does not absorb it).
        await workers.Harness.Bus.Publish(notification);
        await workers.Harness.InactivityTask;

        Assert.Equal(2, workers.Harness.Published.Select<NotificationSent>(x => x.Context.Message.NotificationId == notification.NotificationId).Count());
        Assert.Single(provider.Calls);
    }

    private static SendNotification NewNotification() => new(
        NewId.NextGuid(), NewId.NextGuid(), "email", "welcome", "ada@example.com", new Dictionary<string, string> { ["displayName"] = "Ada" });

    private sealed class UnavailableProvider : INotificationProvider
    {
        private int _calls;

        public int Calls => _calls;

        public Task<string?> SendAsync(SendNotification notification, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            throw new NotificationProviderUnavailableException("The notification provider is unavailable: connection refused");
        }
    }
}
