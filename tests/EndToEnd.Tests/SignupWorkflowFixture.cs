using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// The signup workflow's processes — Ingestion.Api, Workers, Sagas and the notification provider stub — on the real
/// servers, started once for a test class, with a short verification timeout so expiry is testable.
/// </summary>
public class SignupWorkflowFixture : BackboneInfrastructure
{
    /// <summary>A webhook secret: the log specs look for it (and for the signatures made with it) in every host's output.</summary>
    public const string GitHubSecret = "end-to-end-github-secret-never-logged";

    public const string SignupFormSecret = "end-to-end-signup-form-secret";

    public static readonly TimeSpan VerificationTimeout = TimeSpan.FromSeconds(4);
    public static readonly string SigningKey = TestSigningKey.Generate();

    private Dictionary<string, string> _settings = [];

    public HostProcess Provider { get; private set; } = null!;

    /// <summary>Every host exports its spans here, as it would to a real collector.</summary>
    public OtlpCollector Collector { get; } = new();

    public HostProcess Api { get; private set; } = null!;

    public HostProcess Workers { get; private set; } = null!;

    public HostProcess Sagas { get; private set; } = null!;

    /// <summary>A token with every scope the workflow needs, minted by the documented dev-token command of the API host.</summary>
    public string Token { get; private set; } = "";

    public string AllLogs() => string.Join('\n', Api.Logs, Workers.Logs, Sagas.Logs, Provider.Logs);

    /// <summary>Settings a variant of the topology adds to every host's (e.g. quorum queues).</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> TopologySettings() => [];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Provider = HostProcess.StartAssembly(
            "NotificationProvider.Stub", RepositoryLayout.TestProgramAssembly("NotificationProvider.Stub"), new Dictionary<string, string>(), []);
        await Provider.WaitUntilReadyAsync(HostProcess.StartTimeout);
        _settings = new Dictionary<string, string>(HostSettings())
        {
            ["Backbone:Auth:SigningKeys:0"] = SigningKey,
            ["Backbone:Signups:VerificationTimeout"] = VerificationTimeout.ToString(),
            ["Backbone:Notifications:ProviderUrl"] = Provider.BaseAddress.ToString(),
            // The last redelivery comes after the provider client's circuit breaker (15 s) has closed again.
            ["Backbone:Notifications:RedeliveryDelays:0"] = "00:00:01",
            ["Backbone:Notifications:RedeliveryDelays:1"] = "00:00:05",
            ["Backbone:Notifications:RedeliveryDelays:2"] = "00:00:20",
            ["Backbone:Ingestion:Sources:github:Scheme"] = "GitHub",
            ["Backbone:Ingestion:Sources:github:Secrets:0"] = GitHubSecret,
            // A signup form posting signed webhooks: the Integrations module turns them into SignupRequested.
            ["Backbone:Ingestion:Sources:signups:Scheme"] = "Hmac",
            ["Backbone:Ingestion:Sources:signups:Header"] = "X-Signature",
            ["Backbone:Ingestion:Sources:signups:Encoding"] = "Hex",
            ["Backbone:Ingestion:Sources:signups:Prefix"] = "sha256=",
            ["Backbone:Ingestion:Sources:signups:Secrets:0"] = SignupFormSecret,
        };
        foreach (var (key, value) in Collector.HostSettings().Concat(TopologySettings()))
        {
            _settings[key] = value;
        }

        Workers = HostProcess.Start("Workers", _settings);
        Sagas = HostProcess.Start("Sagas", _settings);
        Api = HostProcess.Start("Ingestion.Api", _settings);
        await Task.WhenAll(Workers.WaitUntilReadyAsync(HostProcess.StartTimeout), Sagas.WaitUntilReadyAsync(HostProcess.StartTimeout), Api.WaitUntilReadyAsync(HostProcess.StartTimeout));

        await using var mint = HostProcess.StartAssembly(
            "Ingestion.Api dev-token", RepositoryLayout.HostAssembly("Ingestion.Api"), _settings,
            ["dev-token", "--scope", "commands:signup commands:verify-email signups:read reports:read", "--subject", "end-to-end"]);
        Assert.Equal(0, await mint.WaitForExitAsync(HostProcess.StartTimeout));
        Token = mint.Output.Trim();
        foreach (var host in new[] { Api, Sagas, Workers })
        {
            host.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        }
    }

    /// <summary>SIGKILL the workflow host mid-flight and start a new one (after <paramref name="downFor"/>) on the same database and queues.</summary>
    public async Task KillAndRestartSagasAsync(TimeSpan? downFor = null)
    {
        await Sagas.KillAsync();
        await Sagas.DisposeAsync();
        if (downFor is { } down)
        {
            await Task.Delay(down);
        }

        Sagas = HostProcess.Start("Sagas", _settings);
        await Sagas.WaitUntilReadyAsync(HostProcess.StartTimeout);
        Sagas.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
    }

    public async Task SetProviderAsync(string mode, int delayMs = 0)
    {
        using var response = await Provider.Client.PutAsJsonAsync(new Uri("/behaviour", UriKind.Relative), new { mode, delayMs });
        response.EnsureSuccessStatusCode();
    }

    /// <summary>The notification templates the provider delivered to <paramref name="recipient"/>, oldest first.</summary>
    /// <summary>
    /// Until the provider has the welcome for <paramref name="email"/>. Not "exactly one notification": on a loaded
    /// machine the welcome went out 13 s after the account, together with the reminder of this fixture's 4 s
    /// verification timeout, and a count of one never held (CI run 9, LogSpecs).
    /// </summary>
    public Task WaitForWelcomeAsync(string email, TimeSpan timeout) =>
        Eventually.HoldsAsync(async () => (await DeliveredToAsync(email)).Contains("welcome"), timeout, AllLogs);

    public async Task<List<string>> DeliveredToAsync(string recipient)
    {
        var delivered = await Provider.Client.GetFromJsonAsync<JsonElement>(new Uri("/notifications", UriKind.Relative));
        return [.. delivered.EnumerateArray()
            .Where(x => x.GetProperty("recipient").GetString() == recipient)
            .Select(x => x.GetProperty("template").GetString()!)];
    }

    /// <summary>A signed GitHub push webhook; answers the API's response.</summary>
    public async Task<HttpResponseMessage> PostGitHubWebhookAsync(string body, string? signature = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/github", UriKind.Relative))
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Hub-Signature-256", signature ?? WebhookSigning.Sha256Header(GitHubSecret, body));
        request.Headers.Add("X-GitHub-Event", "push");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        return await Api.Client.SendAsync(request);
    }

    public async Task<Guid> RequestSignupAsync(string email)
    {
        using var response = await Api.Client.PostAsJsonAsync(new Uri("/api/v1/commands/request-signup", UriKind.Relative), new { email });
        Assert.True(response.IsSuccessStatusCode, $"request-signup answered {(int)response.StatusCode}\n{AllLogs()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("commandId").GetGuid();
    }

    public async Task VerifyAsync(Guid signupId)
    {
        using var response = await Api.Client.PostAsJsonAsync(new Uri("/api/v1/commands/verify-email", UriKind.Relative), new { signupId });
        Assert.True(response.IsSuccessStatusCode, $"verify-email answered {(int)response.StatusCode}\n{AllLogs()}");
    }

    public async Task<JsonElement?> SignupAsync(Guid signupId)
    {
        using var response = await Sagas.Client.GetAsync(new Uri($"/api/v1/signups/{signupId}", UriKind.Relative));
        return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonElement>() : null;
    }

    public async Task<JsonElement> WaitForStateAsync(Guid signupId, string state, TimeSpan timeout)
    {
        JsonElement? last = null;
        await Eventually.HoldsAsync(
            async () =>
            {
                last = await SignupAsync(signupId);
                return last?.GetProperty("state").GetString() == state;
            },
            timeout,
            () => $"Signup {signupId} never reached {state}; last seen: {last}\n{AllLogs()}");
        return last!.Value;
    }

    public override async Task DisposeAsync()
    {
        foreach (var host in new[] { Api, Workers, Sagas, Provider })
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }

        await Collector.DisposeAsync();
        await base.DisposeAsync();
    }
}
