using System.Text;
using System.Text.RegularExpressions;
using EventBackbone.TestInfrastructure;
using Microsoft.Playwright;
using RabbitMQ.Client;
using static Microsoft.Playwright.Assertions;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>
/// Edit-and-replay as an operator does it, on a real malformed contract: a <c>SignupRequested</c> whose signupId is not
/// a GUID, faulted by the real Sagas host into <c>signup-state_error</c> and captured by the real DeadLetters host.
/// The contract's refusal is shown next to its field; the corrected copy is consumed by the signup workflow.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class EditAndReplaySpecs(ConsoleFixture console)
{
    /// <summary>The edit form sent with <paramref name="signupId"/> typed into its field and a reason.</summary>
    internal static async Task SubmitEditAsync(IPage page, ILocator signupId, string value, string reason)
    {
        await signupId.FillAsync(value);
        await page.GetByLabel(new Regex("^Reason")).FillAsync(reason);
        await page.GetByRole(AriaRole.Button, new() { Name = "Replay the edited message" }).ClickAsync();
    }

    /// <summary>The signup workflow's queue (SignupStateDefinition in src/Sagas).</summary>
    private const string SignupQueue = "signup-state";
    private const string SignupRequested = "urn:message:EventBackbone.Contracts.Signups:SignupRequested";

    [Fact]
    public async Task A_malformed_signup_is_edited_in_the_browser_the_contracts_error_shown_next_to_the_field_then_replayed_and_consumed()
    {
        var email = $"edited-{Guid.NewGuid():N}@example.com";
        var id = await PublishMalformedSignupAsync(email);
        var store = console.Database("DeadLetters");
        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id AND status = 'dead'", ("id", id)) == 1,
            TimeSpan.FromMinutes(2),
            () => $"The malformed signup was not faulted by Sagas into {SignupQueue}_error and captured.\n{console.AllLogs()}");
        var (context, page) = await console.SignInAsync(console.OperatorToken);
        await using var _ = context;

        await page.GotoAsync($"/messages/{id}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Edit and replay" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex($"/messages/{id}/edit"));
        await Expect(page.Locator("main")).ToContainTextAsync("EventBackbone.Contracts.Signups.SignupRequested");
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Fill in the current values") }).ClickAsync();
        var signupId = page.GetByLabel(new Regex("^signupId"));
        await Expect(signupId).ToHaveValueAsync("not-a-guid");
        await Expect(page.GetByLabel(new Regex("^email"))).ToHaveValueAsync(email);

        // Still not a GUID: the contract refuses it, and says so next to the field.
        await SubmitEditAsync(page, signupId, "not-a-guid-either", "signupId typo upstream");

        await Expect(signupId).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(signupId).ToHaveValueAsync("not-a-guid-either");
        await Expect(page.Locator("#field-signupId-error")).ToContainTextAsync("Not a valid SignupRequested");
        await Expect(signupId).ToHaveAccessibleDescriptionAsync(new Regex(@"^Not a valid SignupRequested: .*Path: \$\.signupId"));
        await Expect(page.GetByLabel(new Regex("^email"))).Not.ToHaveAttributeAsync("aria-invalid", "true");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "edit and replay, refused");
        Assert.Equal("dead", await store.ScalarAsync<string>("SELECT status FROM dead_letters WHERE message_id = @id", ("id", id)));

        var corrected = Guid.NewGuid();
        await SubmitEditAsync(page, signupId, corrected.ToString(), "signupId was not a GUID");

        // Back on the message, now replayed, with the edit in its replay history.
        await Expect(page).ToHaveURLAsync(new Regex($"/messages/{id}$"));
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Summary" }).Locator("dt:text-is('Status') + dd")).ToHaveTextAsync("replayed");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Replay history" }).Locator("tbody tr")).ToHaveCountAsync(1);
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM replay_ledger WHERE message_id = @id", ("id", id)));

        // The signup workflow consumed the corrected copy: the real Sagas host has the signup, and the look-up shows it.
        var api = await console.FrontDoorAsAsync(console.OperatorToken);
        await using var __ = api;
        await Eventually.HoldsAsync(
            async () => (await api.GetAsync($"/api/v1/signups/{corrected}")).Ok,
            Chromium.Patience,
            () => $"The edited signup {corrected} was not consumed by the signup workflow.\n{console.AllLogs()}");
        await page.GotoAsync($"/lookup?signupId={corrected}");
        await Expect(page.GetByRole(AriaRole.Region, new() { NameRegex = new Regex("^Signup ") })).ToContainTextAsync(email);
    }

    /// <summary>
    /// A <c>SignupRequested</c> envelope put straight on the workflow's queue, past MassTransit's serializer (which
    /// would never write a signupId that is not a GUID) — as src/Embedded/Demo/MalformedSignupDemo.cs does in-process.
    /// </summary>
    private async Task<Guid> PublishMalformedSignupAsync(string email)
    {
        var id = Guid.NewGuid();
        await using var channel = await console.Seeder.Broker.CreateChannelAsync();
        var signup = $$"""{"signupId":"not-a-guid","email":"{{email}}","displayName":"Newcomer","requestedAt":"{{DateTimeOffset.UtcNow:O}}"}""";
        var body = $$"""{"messageId":"{{id}}","messageType":["{{SignupRequested}}"],"message":{{signup}},"headers":{}""" + "}";
        var properties = new BasicProperties { Persistent = true, MessageId = id.ToString(), ContentType = "application/vnd.masstransit+json" };
        await channel.BasicPublishAsync("", SignupQueue, mandatory: true, properties, Encoding.UTF8.GetBytes(body));
        return id;
    }
}
