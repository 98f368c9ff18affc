using EventBackbone.Contracts.Code;
using EventBackbone.Contracts.Payments;
using EventBackbone.Contracts.Signups;
using EventBackbone.Contracts.Webhooks;
using EventBackbone.Workers.Integrations;
using MassTransit;
using MassTransit.Testing;

namespace EventBackbone.Workers.Tests;

public sealed class IntegrationSpecs : IAsyncLifetime
{
    private readonly WorkersHarness _workers = new();

    private ITestHarness Harness => _workers.Harness;

    public Task InitializeAsync() => _workers.StartAsync();

    public async Task DisposeAsync() => await _workers.DisposeAsync();

    [Fact]
    public async Task A_GitHub_push_becomes_CodePushed()
    {
        var webhook = Webhook("github", "push", """{"ref":"refs/heads/main","after":"abc123","repository":{"full_name":"octo/backbone"},"pusher":{"name":"ada"}}""");

        await Harness.Bus.Publish(webhook);

        var pushed = await Harness.Published.SelectAsync<CodePushed>(x => x.Context.Message.PushId == webhook.EventId).FirstOrDefault();
        Assert.NotNull(pushed);
        Assert.Equal(new CodePushed(webhook.EventId, "octo/backbone", "refs/heads/main", "abc123", "ada", webhook.ReceivedAt), pushed.Context.Message);
        Assert.Equal("translated", Assert.Single(await _workers.QueryAsync(db => db.IntegrationRecords.Where(x => x.EventId == webhook.EventId))).Outcome);
    }

    [Theory]
    [InlineData("checkout.session.completed", "amount_total")]
    [InlineData("invoice.paid", "amount_paid")]
    public async Task A_paid_Stripe_event_becomes_PaymentReceived(string type, string amountField)
    {
        var webhook = Webhook("stripe", null, "{\"id\":\"evt_1\",\"type\":\"" + type + "\",\"created\":1764000000,\"data\":{\"object\":{\"id\":\"obj_9\",\"" + amountField + "\":1999,\"currency\":\"eur\"}}}");

        await Harness.Bus.Publish(webhook);

        var payment = await Harness.Published.SelectAsync<PaymentReceived>(x => x.Context.Message.PaymentId == webhook.EventId).FirstOrDefault();
        Assert.NotNull(payment);
        Assert.Equal(new PaymentReceived(webhook.EventId, "stripe", "obj_9", 1999, "eur", DateTimeOffset.FromUnixTimeSeconds(1764000000)), payment.Context.Message);
    }

    [Fact]
    public async Task A_signup_form_webhook_starts_a_signup_named_by_the_webhook()
    {
        var webhook = Webhook("signups", null, """{"type":"signup.requested","data":{"email":" ada@example.com ","displayName":"Ada"}}""");

        await Harness.Bus.Publish(webhook);

        var requested = await Harness.Published.SelectAsync<SignupRequested>(x => x.Context.Message.SignupId == webhook.EventId).FirstOrDefault();
        Assert.NotNull(requested);
        Assert.Equal(new SignupRequested(webhook.EventId, "ada@example.com", "Ada", webhook.ReceivedAt), requested.Context.Message);
    }

    [Theory]
    [InlineData("signups", null, """{"type":"signup.cancelled","data":{}}""", "ignored")]
    [InlineData("signups", null, """{"type":"signup.requested","data":{"email":null}}""", "malformed")]
    [InlineData("signups", null, """{"type":"signup.requested","data":{}}""", "malformed")]
    [InlineData("github", "issues", """{"action":"opened"}""", "ignored")]
    [InlineData("stripe", null, """{"id":"evt_2","type":"customer.created","data":{"object":{"id":"cus_1"}}}""", "ignored")]
    [InlineData("github", "push", """{"ref":"refs/heads/main"}""", "malformed")]
    [InlineData("shop", "order", """{"id":1}""", "ignored")]
    public async Task An_event_that_is_not_translated_is_recorded_and_acknowledged_without_a_fault(string source, string? eventType, string payload, string outcome)
    {
        var webhook = Webhook(source, eventType, payload);

        await Harness.Bus.Publish(webhook);

        Assert.True(await Harness.Consumed.Any<WebhookReceived>(x => x.Context.Message.EventId == webhook.EventId));
        await Harness.InactivityTask;
        var record = Assert.Single(await _workers.QueryAsync(db => db.IntegrationRecords.Where(x => x.EventId == webhook.EventId)));
        Assert.Equal(outcome, record.Outcome);
        Assert.False(await Harness.Published.Any<Fault<WebhookReceived>>());
        Assert.False(await Harness.Published.Any<CodePushed>(x => x.Context.Message.PushId == webhook.EventId));
        Assert.False(await Harness.Published.Any<SignupRequested>(x => x.Context.Message.SignupId == webhook.EventId));
    }

    [Fact]
    public void A_configured_source_overrides_the_translation_its_name_suggests()
    {
        var settings = new IntegrationSettings(new Dictionary<string, IntegrationKind> { ["github"] = IntegrationKind.None, ["billing"] = IntegrationKind.Stripe });

        Assert.Equal(IntegrationKind.None, settings.For("github"));
        Assert.Equal(IntegrationKind.Stripe, settings.For("billing"));
        Assert.Equal(IntegrationKind.Stripe, settings.For("stripe"));
    }

    private static WebhookReceived Webhook(string source, string? eventType, string payload) =>
        new(NewId.NextGuid(), source, eventType, DateTimeOffset.UtcNow, "application/json", payload);
}
