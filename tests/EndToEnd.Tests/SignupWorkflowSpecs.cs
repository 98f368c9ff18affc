using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// The signup workflow through the running hosts on real RabbitMQ and PostgreSQL: every signup ends in exactly one
/// terminal state, with exactly the notifications it should have, counted where they land — at the provider.
/// </summary>
public sealed class SignupWorkflowSpecs(SignupWorkflowFixture workflow) : IClassFixture<SignupWorkflowFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_signup_that_is_verified_after_its_welcome_completes_with_one_welcome()
    {
        await workflow.SetProviderAsync("ok");
        var email = Email("happy");

        var signupId = await workflow.RequestSignupAsync(email);
        await workflow.WaitForWelcomeAsync(email, Patience);
        await workflow.VerifyAsync(signupId);

        var signup = await workflow.WaitForStateAsync(signupId, "Completed", Patience);
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, signup.GetProperty("userId").ValueKind);
        await Task.Delay(SignupWorkflowFixture.VerificationTimeout * 2);
        await AssertNotifiedAsVerifiedAsync(signupId, email);
        Assert.Equal("Completed", (await workflow.SignupAsync(signupId))?.GetProperty("state").GetString());
        // The funnel read model saw it through every stage.
        var funnel = await workflow.Workers.Client.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/reports/signup-funnel", UriKind.Relative));
        foreach (var stage in new[] { "requested", "accountCreated", "welcomed", "verified" })
        {
            Assert.True(funnel.GetProperty(stage).GetInt32() >= 1, $"{stage} is 0 in {funnel}");
        }
    }

    [Fact]
    public async Task With_a_flaky_provider_the_HTTP_retries_deliver_the_welcome_exactly_once()
    {
        // Every other request answers 503: the resilience pipeline's retry gets through on the next attempt.
        await workflow.SetProviderAsync("flaky");
        var email = Email("flaky");

        var signupId = await workflow.RequestSignupAsync(email);

        await workflow.WaitForWelcomeAsync(email, Patience);
        await workflow.VerifyAsync(signupId);
        await workflow.WaitForStateAsync(signupId, "Completed", Patience);
        await workflow.SetProviderAsync("ok");
        await AssertNotifiedAsVerifiedAsync(signupId, email);
    }

    [Fact]
    public async Task A_second_signup_for_a_taken_address_is_rejected_and_notified_of_nothing()
    {
        await workflow.SetProviderAsync("ok");
        var email = Email("taken");
        var first = await workflow.RequestSignupAsync(email);
        await workflow.WaitForStateAsync(first, "AwaitingVerification", Patience);

        var second = await workflow.RequestSignupAsync(email.ToUpperInvariant());

        var rejected = await workflow.WaitForStateAsync(second, "Rejected", Patience);
        Assert.Equal("email-taken", rejected.GetProperty("rejectionReason").GetString());
        Assert.Empty(await workflow.DeliveredToAsync(email.ToUpperInvariant()));
        await workflow.VerifyAsync(first);
        await workflow.WaitForStateAsync(first, "Completed", Patience);
        await AssertNotifiedAsVerifiedAsync(first, email);
    }

    [Fact]
    public async Task Without_verification_a_signup_gets_one_reminder_and_then_expires()
    {
        await workflow.SetProviderAsync("ok");
        var email = Email("silent");

        var signupId = await workflow.RequestSignupAsync(email);

        var expired = await workflow.WaitForStateAsync(signupId, "Expired", Patience);
        Assert.Equal(1, expired.GetProperty("remindersSent").GetInt32());
        await Eventually.HoldsAsync(async () => (await workflow.DeliveredToAsync(email)).Count == 2, Patience, workflow.AllLogs);
        Assert.Equal(["welcome", "verification-reminder"], await workflow.DeliveredToAsync(email));
        // A verification after expiry changes nothing.
        await workflow.VerifyAsync(signupId);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal("Expired", (await workflow.SignupAsync(signupId))?.GetProperty("state").GetString());
    }

    [Fact]
    public async Task When_the_provider_is_down_and_recovers_the_welcome_is_delivered_once_after_all()
    {
        await workflow.SetProviderAsync("down");
        var email = Email("outage");

        var signupId = await workflow.RequestSignupAsync(email);
        await workflow.WaitForStateAsync(signupId, "AwaitingVerification", Patience);
        // Long enough for the HTTP retries and the first redelivery to fail against the outage.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Empty(await workflow.DeliveredToAsync(email));
        await workflow.SetProviderAsync("ok");

        await workflow.WaitForWelcomeAsync(email, Patience);
        await workflow.VerifyAsync(signupId);
        await workflow.WaitForStateAsync(signupId, "Completed", Patience);
        await AssertNotifiedAsVerifiedAsync(signupId, email);
    }

    [Fact]
    public async Task A_verification_that_arrives_before_the_welcome_completes_the_signup_and_the_welcome_still_arrives_once()
    {
        // A slow provider: the person verifies (from another channel) while the welcome is still on its way.
        await workflow.SetProviderAsync("slow", delayMs: 1500);
        var email = Email("early");

        var signupId = await workflow.RequestSignupAsync(email);
        await workflow.WaitForStateAsync(signupId, "AwaitingVerification", Patience);
        await workflow.VerifyAsync(signupId);

        await workflow.WaitForStateAsync(signupId, "Completed", Patience);
        await workflow.WaitForWelcomeAsync(email, Patience);
        await workflow.SetProviderAsync("ok");
        await Task.Delay(TimeSpan.FromSeconds(2));
        await AssertNotifiedAsVerifiedAsync(signupId, email);
    }

    [Fact]
    public async Task Signups_in_flight_when_the_workflow_host_is_killed_each_end_in_exactly_one_terminal_state()
    {
        await workflow.SetProviderAsync("ok");
        var emails = Enumerable.Range(0, 6).Select(i => Email($"crash{i}")).ToList();
        var signups = new List<Guid>();
        foreach (var email in emails)
        {
            signups.Add(await workflow.RequestSignupAsync(email));
        }

        await workflow.KillAndRestartSagasAsync();
        // Half are verified, the other half are left to expire.
        for (var i = 0; i < signups.Count; i += 2)
        {
            await workflow.WaitForStateAsync(signups[i], "AwaitingVerification", Patience);
            await workflow.VerifyAsync(signups[i]);
        }

        for (var i = 0; i < signups.Count; i++)
        {
            var verified = i % 2 == 0;
            var final = await workflow.WaitForStateAsync(signups[i], verified ? "Completed" : "Expired", Patience);
            // A verified signup gets a reminder too when its first timeout came due before the verification did: the
            // restart of a killed host under a loaded suite can take longer than the 4 s timeout (a CI-like run sent
            // one). The saga's own history says whether it did; the notifications must match it exactly, once each.
            var reminded = WasReminded(final);
            Assert.True(verified || reminded, $"An expired signup without a reminder in its history:\n{final}");
            string[] expected = reminded ? ["verification-reminder", "welcome"] : ["welcome"];
            var email = emails[i];
            await Eventually.HoldsAsync(async () => (await workflow.DeliveredToAsync(email)).Count >= expected.Length, Patience, workflow.AllLogs);
            // Arrival order is not part of the contract: a welcome held up by the crash can arrive after the reminder.
            Assert.Equal(expected, (await workflow.DeliveredToAsync(email)).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task A_timeout_that_came_due_while_the_workflow_host_was_down_fires_once_and_the_next_keeps_its_full_delay()
    {
        await workflow.SetProviderAsync("ok");
        var signupId = await workflow.RequestSignupAsync(Email("overdue"));
        await workflow.WaitForStateAsync(signupId, "AwaitingVerification", Patience);

        // Down for longer than the verification timeout: the first timeout is overdue when the host comes back.
        await workflow.KillAndRestartSagasAsync(downFor: SignupWorkflowFixture.VerificationTimeout * 2);

        var expired = await workflow.WaitForStateAsync(signupId, "Expired", Patience);
        var history = expired.GetProperty("history").EnumerateArray()
            .Select(x => (At: x.GetProperty("at").GetDateTimeOffset(), What: x.GetProperty("what").GetString()!)).ToList();
        var reminder = history.Single(x => x.What.StartsWith("Not verified in time", StringComparison.Ordinal)).At;
        var expiry = history.Single(x => x.What.StartsWith("Not verified after the reminder", StringComparison.Ordinal)).At;
        // The reminder schedules the second timeout afresh: it must not fire early because the first one was late.
        Assert.True(
            expiry - reminder >= SignupWorkflowFixture.VerificationTimeout - TimeSpan.FromMilliseconds(100),
            $"Expired {(expiry - reminder).TotalMilliseconds:F0} ms after the reminder; the timeout is {SignupWorkflowFixture.VerificationTimeout.TotalSeconds} s.\n{expired}");
    }

    /// <summary>
    /// A verified signup has exactly its welcome, and also the reminder when its first timeout (4 s in this fixture) came
    /// due before the verification did — which a loaded suite can make happen between any two steps of a spec (a CI run
    /// got ["welcome", "verification-reminder"] in the flaky-provider spec). The saga's own history says which; the
    /// provider must have received exactly that, once each, in any order.
    /// </summary>
    private async Task AssertNotifiedAsVerifiedAsync(Guid signupId, string email)
    {
        var signup = await workflow.SignupAsync(signupId) ?? throw new InvalidOperationException($"Signup {signupId} is not found.");
        string[] expected = WasReminded(signup) ? ["verification-reminder", "welcome"] : ["welcome"];
        await Eventually.HoldsAsync(async () => (await workflow.DeliveredToAsync(email)).Count >= expected.Length, Patience, workflow.AllLogs);
        Assert.Equal(expected, (await workflow.DeliveredToAsync(email)).Order(StringComparer.Ordinal));
    }

    private static bool WasReminded(JsonElement signup) =>
        signup.GetProperty("history").EnumerateArray()
            .Any(x => x.GetProperty("what").GetString()!.StartsWith("Not verified in time", StringComparison.Ordinal));

    private static string Email(string who) => $"{who}-{Guid.NewGuid():N}@example.com";
}
