using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>Every host on the real servers, reached only through Ingestion.Api, the one public entry.</summary>
public sealed class FrontDoorFixture() : BackboneInfrastructure("Ingestion", "Workers", "Sagas", "DeadLetters")
{
    public static readonly string SigningKey = TestSigningKey.Generate();

    private readonly List<HostProcess> _hosts = [];

    public HostProcess Api { get; private set; } = null!;

    public HostProcess DeadLetters { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var settings = new Dictionary<string, string>(HostSettings())
        {
            ["Backbone:Auth:SigningKeys:0"] = SigningKey,
            ["Backbone:RabbitMq:ManagementUrl"] = Settings.RabbitManagementUrl.ToString(),
        };
        var workers = Track(HostProcess.Start("Workers", settings));
        var sagas = Track(HostProcess.Start("Sagas", settings));
        DeadLetters = Track(HostProcess.Start("DeadLetters", settings));
        await Task.WhenAll(_hosts.Select(host => host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60))));
        settings["Backbone:Gateway:Workers"] = workers.BaseAddress.ToString();
        settings["Backbone:Gateway:Sagas"] = sagas.BaseAddress.ToString();
        settings["Backbone:Gateway:DeadLetters"] = DeadLetters.BaseAddress.ToString();
        Api = Track(HostProcess.Start("Ingestion.Api", settings));
        await Api.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
    }

    public async Task<string> TokenAsync(string subject, string scopes)
    {
        await using var mint = HostProcess.StartAssembly("dev-token", RepositoryLayout.HostAssembly("Ingestion.Api"),
            new Dictionary<string, string> { ["Backbone:Auth:SigningKeys:0"] = SigningKey },
            ["dev-token", "--scope", scopes, "--subject", subject]);
        Assert.Equal(0, await mint.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        return mint.Output.Trim();
    }

    public string AllLogs() => string.Join('\n', _hosts.Select(x => x.Logs));

    public override async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private HostProcess Track(HostProcess host)
    {
        _hosts.Add(host);
        return host;
    }
}

public sealed class FrontDoorSpecs(FrontDoorFixture topology) : IClassFixture<FrontDoorFixture>
{
    [Fact]
    public async Task Reports_signup_state_and_dead_letters_are_reached_through_the_front_door_with_a_valid_token_only()
    {
        var everything = await topology.TokenAsync("operator", "commands:signup reports:read signups:read dead-letters:read");
        var reportsOnly = await topology.TokenAsync("analyst", "reports:read");
        using var anonymous = new HttpClient { BaseAddress = topology.Api.BaseAddress };
        using var operatorClient = Client(everything);
        using var analyst = Client(reportsOnly);
        using var forged = Client(everything[..^4] + "AAAA");

        using var signup = await operatorClient.PostAsJsonAsync(new Uri("/api/v1/commands/request-signup", UriKind.Relative), new { email = $"front-{Guid.NewGuid():N}@example.com" });
        Assert.True(signup.IsSuccessStatusCode, topology.AllLogs());
        var signupId = (await signup.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();

        // With the right token: each host's own answer, through the one entry.
        var funnel = await operatorClient.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/reports/signup-funnel", UriKind.Relative));
        Assert.True(funnel.TryGetProperty("requested", out _), funnel.ToString());
        await Eventually.HoldsAsync(
            async () => (await operatorClient.GetAsync(new Uri($"/api/v1/signups/{signupId}", UriKind.Relative))).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30),
            topology.AllLogs);
        var letters = await operatorClient.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/dead-letters?limit=5", UriKind.Relative));
        Assert.Equal(JsonValueKind.Array, letters.ValueKind);

        // Without a valid token the edge refuses; nothing reaches the service behind it.
        foreach (var path in new[] { "/api/v1/reports/signup-funnel", $"/api/v1/signups/{signupId}", "/api/v1/dead-letters" })
        {
            using var missing = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            using var invalid = await forged.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, invalid.StatusCode);
        }

        var audit = topology.Database("DeadLetters");
        Assert.Equal(0, await audit.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-401'"));
        // A valid token without the scope passes the edge; the service checks its own scope and says 403.
        using var noScope = await analyst.GetAsync(new Uri("/api/v1/dead-letters", UriKind.Relative));
        using var noSignups = await analyst.GetAsync(new Uri($"/api/v1/signups/{signupId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Forbidden, noScope.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, noSignups.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await analyst.GetAsync(new Uri("/api/v1/reports/signup-funnel", UriKind.Relative))).StatusCode);
        // The service behind the edge audited its own refusal, with the caller the edge passed on.
        Assert.Equal(1, await audit.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-403' AND actor = 'analyst'"));
    }

    private HttpClient Client(string token)
    {
        var client = new HttpClient { BaseAddress = topology.Api.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
