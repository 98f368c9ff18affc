using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.Contracts.Payments;
using EventBackbone.Contracts.Signups;
using EventBackbone.ServiceDefaults.Authentication;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace EventBackbone.Ingestion.Api.Tests;

public sealed class CommandEndpointSpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    private static readonly Uri RequestSignup = new("/api/v1/commands/request-signup", UriKind.Relative);
    private static readonly Uri PublishEvent = new("/api/v1/commands/publish-event", UriKind.Relative);

    [Fact]
    public async Task A_signup_request_with_the_scope_is_accepted_and_published_as_SignupRequested()
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:signup");
        var email = $"ada-{Guid.NewGuid():N}@example.com";

        using var response = await client.PostAsync(RequestSignup, Json($$"""{"email":" {{email}} ","displayName":"Ada"}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var commandId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();
        Assert.Equal($"/api/v1/signups/{commandId}", response.Headers.Location?.ToString());
        var published = await Harness.Published.SelectAsync<SignupRequested>(x => x.Context.Message.SignupId == commandId).FirstOrDefault();
        Assert.NotNull(published);
        Assert.Equal(email, published.Context.Message.Email);
        Assert.Equal("Ada", published.Context.Message.DisplayName);
        Assert.Equal(commandId, published.Context.MessageId);
    }

    [Fact]
    public async Task Without_a_token_a_command_is_a_401_problem_that_asks_for_a_bearer_token()
    {
        using var client = factory.CreateClient();
        var email = $"anonymous-{Guid.NewGuid():N}@example.com";

        using var response = await client.PostAsync(RequestSignup, Json($$"""{"email":"{{email}}"}"""));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Empty(Harness.Published.Select<SignupRequested>(x => x.Context.Message.Email == email));
    }

    public static TheoryData<string> InvalidTokens() => new()
    {
        "signed with another key",
        "for another audience",
        "from another issuer",
        "expired",
        "garbage",
    };

    [Theory]
    [MemberData(nameof(InvalidTokens))]
    public async Task A_token_that_does_not_verify_is_a_401_problem(string why)
    {
        var auth = IngestionApiFactory.Auth;
        var now = DateTime.UtcNow;
        var token = why switch
        {
            "signed with another key" => Mint(auth with { SigningKeys = [new SymmetricSecurityKey(Encoding.UTF8.GetBytes(new string('k', 40)))] }, now),
            "for another audience" => Mint(auth with { Audience = "someone-else" }, now),
            "from another issuer" => Mint(auth with { Issuer = "evil" }, now),
            "expired" => DevTokens.Mint(auth, "svc", ["commands:signup"], TimeSpan.FromMinutes(1), now.AddMinutes(-10)),
            _ => "not.a.jwt",
        };
        using var client = factory.CreateClientWithToken(token);

        using var response = await client.PostAsync(RequestSignup, Json("""{"email":"a@example.com"}"""));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.Single().Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_token_without_the_commands_scope_is_a_403_problem()
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:verify-email", "commands:signupX");

        using var response = await client.PostAsync(RequestSignup, Json("""{"email":"forbidden@example.com"}"""));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Empty(Harness.Published.Select<SignupRequested>(x => x.Context.Message.Email == "forbidden@example.com"));
    }

    [Fact]
    public async Task An_invalid_body_is_a_422_problem_listing_each_invalid_field()
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:signup");

        using var response = await client.PostAsync(RequestSignup, Json("""{"displayName": 7, "emial": "typo@example.com"}"""));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid-command");
        var errors = problem.GetProperty("errors");
        Assert.Equal(["displayName", "email", "emial"], errors.EnumerateObject().Select(x => x.Name).Order(StringComparer.Ordinal));
        Assert.Equal("is required.", errors.GetProperty("email")[0].GetString());
        Assert.Equal("must be a string.", errors.GetProperty("displayName")[0].GetString());
    }

    [Theory]
    [InlineData("""{"email":"not-an-address"}""", "email")]
    [InlineData("""{"email":"Ada <ada@example.com>"}""", "email")]
    [InlineData("""{"email":"   "}""", "email")]
    [InlineData("""{"email":null}""", "email")]
    [InlineData("""{"email":"ada@example.com","displayName":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789X"}""", "displayName")]
    public async Task A_signup_whose_fields_break_the_rules_is_a_422_naming_the_field(string body, string field)
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:signup");

        using var response = await client.PostAsync(RequestSignup, Json(body));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid-command");
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(x => x.Name));
    }

    [Fact]
    public async Task A_verification_for_the_empty_signup_id_is_a_422()
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:verify-email");

        using var response = await client.PostAsync(new Uri("/api/v1/commands/verify-email", UriKind.Relative), Json("""{"signupId":"00000000-0000-0000-0000-000000000000"}"""));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid-command");
        Assert.Equal("must not be the empty UUID.", problem.GetProperty("errors").GetProperty("signupId")[0].GetString());
    }

    [Fact]
    public async Task A_verification_is_published_as_EmailVerified_for_its_signup()
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:verify-email");
        var signupId = Guid.NewGuid();

        using var response = await client.PostAsync(new Uri("/api/v1/commands/verify-email", UriKind.Relative), Json($$"""{"signupId":"{{signupId}}"}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"/api/v1/signups/{signupId}", response.Headers.Location?.ToString());
        Assert.True(await Harness.Published.Any<EmailVerified>(x => x.Context.Message.SignupId == signupId));
    }

    [Fact]
    public async Task A_retry_with_the_same_idempotency_key_returns_the_first_result_and_publishes_once()
    {
        using var client = factory.CreateCommandClient($"svc-{Guid.NewGuid():N}", "commands:signup");
        var email = $"once-{Guid.NewGuid():N}@example.com";
        var body = $$"""{"email":"{{email}}"}""";

        using var first = await PostWithKey(client, RequestSignup, body, "retry-1");
        using var second = await PostWithKey(client, RequestSignup, body, "retry-1");

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        var firstId = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();
        var secondId = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();
        Assert.Equal(firstId, secondId);
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.True(await Harness.Published.Any<SignupRequested>(x => x.Context.Message.Email == email));
        Assert.Single(Harness.Published.Select<SignupRequested>(x => x.Context.Message.Email == email));
    }

    [Fact]
    public async Task An_idempotency_key_reused_for_another_request_is_a_422_and_publishes_nothing()
    {
        using var client = factory.CreateCommandClient($"svc-{Guid.NewGuid():N}", "commands:signup");
        var other = $"other-{Guid.NewGuid():N}@example.com";

        using var first = await PostWithKey(client, RequestSignup, """{"email":"first@example.com"}""", "reused");
        using var second = await PostWithKey(client, RequestSignup, $$"""{"email":"{{other}}"}""", "reused");

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await ProblemAssert.IsProblemAsync(second, HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
        Assert.Empty(Harness.Published.Select<SignupRequested>(x => x.Context.Message.Email == other));
    }

    [Fact]
    public async Task Idempotency_keys_belong_to_their_caller()
    {
        using var alice = factory.CreateCommandClient($"alice-{Guid.NewGuid():N}", "commands:signup");
        using var bob = factory.CreateCommandClient($"bob-{Guid.NewGuid():N}", "commands:signup");

        using var fromAlice = await PostWithKey(alice, RequestSignup, """{"email":"same@example.com"}""", "shared-key");
        using var fromBob = await PostWithKey(bob, RequestSignup, """{"email":"same@example.com"}""", "shared-key");

        var aliceId = (await fromAlice.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();
        var bobId = (await fromBob.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();
        Assert.NotEqual(aliceId, bobId);
        Assert.False(fromBob.Headers.Contains("Idempotent-Replayed"));
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678")]
    [InlineData("ü")]
    public async Task A_malformed_idempotency_key_is_a_400_problem(string key)
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:signup");

        using var response = await PostWithKey(client, RequestSignup, """{"email":"a@example.com"}""", key);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "invalid-idempotency-key");
    }

    [Fact]
    public async Task A_registered_contract_is_published_through_PublishEvent()
    {
        using var client = factory.CreateCommandClient("billing", "commands:publish");
        var externalId = $"in_{Guid.NewGuid():N}";

        using var response = await client.PostAsync(PublishEvent, Json($$$"""
            {"messageType":"EventBackbone.Contracts.Payments.PaymentReceived",
             "message":{"paymentId":"{{{Guid.NewGuid()}}}","provider":"stripe","externalId":"{{{externalId}}}","amountMinor":1999,"currency":"eur","paidAt":"2026-11-28T10:00:00Z"}}
            """));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var commandId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();
        var published = await Harness.Published.SelectAsync<PaymentReceived>(x => x.Context.Message.ExternalId == externalId).FirstOrDefault();
        Assert.NotNull(published);
        Assert.Equal(1999, published.Context.Message.AmountMinor);
        Assert.Equal(commandId, published.Context.MessageId);
        var status = await client.GetFromJsonAsync<JsonElement>(response.Headers.Location);
        Assert.Equal("publish-event", status.GetProperty("name").GetString());
        Assert.Equal("published", status.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_contract_that_is_not_registered_as_publishable_is_refused_with_422()
    {
        using var client = factory.CreateCommandClient("billing", "commands:publish");

        using var response = await client.PostAsync(PublishEvent, Json($$$"""
            {"messageType":"EventBackbone.Contracts.Signups.EmailVerified","message":{"signupId":"{{{Guid.NewGuid()}}}","verifiedAt":"2026-11-28T10:00:00Z"}}
            """));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid-command");
        Assert.True(problem.GetProperty("errors").TryGetProperty("messageType", out _));
    }

    [Fact]
    public async Task The_fields_of_a_published_contract_are_checked_one_by_one()
    {
        using var client = factory.CreateCommandClient("billing", "commands:publish");

        using var response = await client.PostAsync(PublishEvent, Json("""
            {"messageType":"EventBackbone.Contracts.Payments.PaymentReceived",
             "message":{"paymentId":"nope","provider":"stripe","amountMinor":"lots","currency":"eur","paidAt":"2026-11-28T10:00:00Z"}}
            """));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnprocessableEntity, "invalid-command");
        Assert.Equal(
            ["message.amountMinor", "message.externalId", "message.paymentId"],
            problem.GetProperty("errors").EnumerateObject().Select(x => x.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_status_of_a_command_is_visible_only_to_its_caller()
    {
        using var owner = factory.CreateCommandClient("owner", "commands:publish");
        using var stranger = factory.CreateCommandClient("stranger", "commands:publish");
        using var accepted = await owner.PostAsync(PublishEvent, Json($$$"""
            {"messageType":"EventBackbone.Contracts.Code.CodePushed",
             "message":{"pushId":"{{{Guid.NewGuid()}}}","repository":"octo/backbone","ref":"refs/heads/main","pushedAt":"2026-11-28T10:00:00Z"}}
            """));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

        using var seen = await owner.GetAsync(accepted.Headers.Location);
        using var hidden = await stranger.GetAsync(accepted.Headers.Location);

        Assert.Equal(HttpStatusCode.OK, seen.StatusCode);
        await ProblemAssert.IsProblemAsync(hidden, HttpStatusCode.NotFound, "command-not-found");
    }

    [Fact]
    public async Task A_token_that_names_no_caller_is_refused_for_commands_with_a_403_problem_saying_why()
    {
        // Valid and scoped, but with no sub, client_id or azp: two such callers would share one identity, and with it
        // each other's idempotency keys and command statuses.
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = IngestionApiFactory.Auth.Issuer,
            Audience = IngestionApiFactory.Auth.Audience,
            Claims = new Dictionary<string, object> { ["scope"] = "commands:publish" },
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = new SigningCredentials(IngestionApiFactory.Auth.SigningKeys[0], SecurityAlgorithms.HmacSha256),
        };
        using var nobody = factory.CreateClientWithToken(new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(descriptor));
        var pushId = Guid.NewGuid();

        using var command = await nobody.PostAsync(PublishEvent, Json($$$"""
            {"messageType":"EventBackbone.Contracts.Code.CodePushed",
             "message":{"pushId":"{{{pushId}}}","repository":"octo/backbone","ref":"refs/heads/main","pushedAt":"2026-11-28T10:00:00Z"}}
            """));
        using var status = await nobody.GetAsync(new Uri($"/api/v1/commands/{Guid.NewGuid()}", UriKind.Relative));

        var problem = await ProblemAssert.IsProblemAsync(command, HttpStatusCode.Forbidden, "unidentified-caller");
        Assert.Contains("sub", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(status, HttpStatusCode.Forbidden, "unidentified-caller");
        Assert.Empty(Harness.Published.Select<EventBackbone.Contracts.Code.CodePushed>(x => x.Context.Message.PushId == pushId));
    }

    [Fact]
    public async Task An_unknown_command_is_a_404_problem_for_an_authenticated_caller()
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:signup");

        using var response = await client.PostAsync(new Uri("/api/v1/commands/delete-everything", UriKind.Relative), Json("{}"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "unknown-command");
    }

    [Fact]
    public async Task Commands_refuse_other_media_types_oversized_and_malformed_bodies()
    {
        using var client = factory.CreateCommandClient("svc-web", "commands:signup");

        using var text = await client.PostAsync(RequestSignup, new StringContent("email=a@example.com", Encoding.UTF8, "text/plain"));
        using var huge = await client.PostAsync(RequestSignup, Json($$"""{"email":"a@example.com","displayName":"{{new string('x', 70_000)}}"}"""));
        using var broken = await client.PostAsync(RequestSignup, Json("""{"email":"""));

        Assert.Equal(
            [HttpStatusCode.UnsupportedMediaType, HttpStatusCode.RequestEntityTooLarge, HttpStatusCode.BadRequest],
            [text.StatusCode, huge.StatusCode, broken.StatusCode]);
        await ProblemAssert.IsProblemAsync(text, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        await ProblemAssert.IsProblemAsync(huge, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        await ProblemAssert.IsProblemAsync(broken, HttpStatusCode.BadRequest, "malformed-body");
    }

    private ITestHarness Harness => factory.Services.GetRequiredService<ITestHarness>();

    private static string Mint(BackboneAuthSettings auth, DateTime now) =>
        DevTokens.Mint(auth, "svc", ["commands:signup"], TimeSpan.FromMinutes(5), now);

    private static Task<HttpResponseMessage> PostWithKey(HttpClient client, Uri uri, string body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = Json(body) };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return client.SendAsync(request);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
