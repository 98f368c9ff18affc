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

    /// <summary>The hosts behind the front door, by the service name their outbox status answers to.</summary>
    public IReadOnlyDictionary<string, HostProcess> Services { get; private set; } = new Dictionary<string, HostProcess>();

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
        await Task.WhenAll(_hosts.Select(host => host.WaitUntilReadyAsync(HostProcess.StartTimeout)));
        Services = new Dictionary<string, HostProcess> { ["workers"] = workers, ["sagas"] = sagas };
        settings["Backbone:Gateway:Workers"] = workers.BaseAddress.ToString();
        settings["Backbone:Gateway:Sagas"] = sagas.BaseAddress.ToString();
        settings["Backbone:Gateway:DeadLetters"] = DeadLetters.BaseAddress.ToString();
        Api = Track(HostProcess.Start("Ingestion.Api", settings));
        await Api.WaitUntilReadyAsync(HostProcess.StartTimeout);
    }

    public Task<string> TokenAsync(string subject, string scopes) => MintedTokens.MintAsync(SigningKey, subject, scopes);

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
        // From another loopback address than the front door's own, so the audit shows whose address it recorded.
        using var anonymous = FromAddress("127.0.0.2");
        using var operatorClient = Client(everything);
        using var analyst = Client(reportsOnly);
        using var forged = FromAddress("127.0.0.2", everything[..^4] + "AAAA");

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
        Assert.Equal(JsonValueKind.Array, letters.GetProperty("items").ValueKind);

        // Without a valid token the edge refuses; the call itself never reaches the service behind it.
        foreach (var path in new[] { "/api/v1/reports/signup-funnel", $"/api/v1/signups/{signupId}", "/api/v1/dead-letters", "/API/V1/DEAD-LETTERS/nothing/here" })
        {
            using var missing = await anonymous.GetAsync(new Uri(path, UriKind.Relative));
            using var invalid = await forged.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, invalid.StatusCode);
        }

        // But each refused dead-letter call is in the dead-letter audit, with what was tried and the caller's address.
        var audit = topology.Database("DeadLetters");
        Assert.Equal(2, await audit.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-401' AND actor = 'anonymous' AND detail LIKE 'GET /api/v1/dead-letters from % (X-Forwarded-For: 127.0.0.2)'"));
        Assert.Equal(2, await audit.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-401' AND detail LIKE 'GET /API/V1/DEAD-LETTERS/nothing/here from % (X-Forwarded-For: 127.0.0.2)'"));
        // A valid token without the scope passes the edge; the service checks its own scope and says 403.
        using var noScope = await analyst.GetAsync(new Uri("/api/v1/dead-letters", UriKind.Relative));
        using var noSignups = await analyst.GetAsync(new Uri($"/api/v1/signups/{signupId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Forbidden, noScope.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, noSignups.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await analyst.GetAsync(new Uri("/api/v1/reports/signup-funnel", UriKind.Relative))).StatusCode);
        // The service behind the edge audited its own refusal, with the caller the edge passed on.
        Assert.Equal(1, await audit.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-403' AND actor = 'analyst'"));
    }

    [Fact]
    public async Task Each_service_outbox_status_is_answered_through_the_front_door_by_the_host_that_owns_that_outbox()
    {
        using var reader = Client(await topology.TokenAsync("outbox-reader", "dead-letters:read"));
        using var analyst = Client(await topology.TokenAsync("outbox-analyst", "reports:read"));
        using var anonymous = new HttpClient { BaseAddress = topology.Api.BaseAddress };
        // A parked group in each service's own database: the group an answer lists says whose database was read.
        var parked = new Dictionary<string, Guid> { ["ingestion"] = Guid.NewGuid(), ["workers"] = Guid.NewGuid(), ["sagas"] = Guid.NewGuid() };
        foreach (var (service, database) in new[] { ("ingestion", "Ingestion"), ("workers", "Workers"), ("sagas", "Sagas") })
        {
            await topology.Database(database).ScalarAsync<object>(
                $"INSERT INTO outbox_state (outbox_id, attempts, last_error, parked_at) VALUES ('{parked[service]}', 10, 'parked in {service}', now())");
        }

        foreach (var service in parked.Keys)
        {
            var path = new Uri($"/api/v1/outbox/{service}", UriKind.Relative);
            using var response = await reader.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{service}: {(int)response.StatusCode}\n{topology.AllLogs()}");
            var status = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(service, status.GetProperty("service").GetString());
            Assert.True(status.GetProperty("durable").GetBoolean());
            var listed = status.GetProperty("parked").EnumerateArray().Select(x => x.GetProperty("groupId").GetGuid()).ToList();
            Assert.Equal([parked[service]], listed.Intersect(parked.Values));
            // The edge wants a token; the service behind it wants its scope.
            using var missing = await anonymous.GetAsync(path);
            using var forbidden = await analyst.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        // Each host's own contract names its outbox status (the front door's also its permissions endpoint).
        foreach (var (service, host) in topology.Services.Append(new("ingestion", topology.Api)))
        {
            using var document = JsonDocument.Parse(await host.Client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
            Assert.True(document.RootElement.GetProperty("paths").TryGetProperty($"/api/v1/outbox/{service}", out _), $"{service}'s OpenAPI document");
        }

        var permissions = await reader.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/me/permissions", UriKind.Relative));
        Assert.Equal("outbox-reader", permissions.GetProperty("caller").GetString());
        Assert.True(permissions.GetProperty("can").GetProperty("read").GetBoolean());
        Assert.False(permissions.GetProperty("can").GetProperty("replay").GetBoolean());
    }

    [Fact]
    public async Task A_flood_of_refused_dead_letter_calls_is_audited_within_a_budget_per_caller_address()
    {
        const int calls = 60;
        using var flooder = FromAddress("127.0.0.3");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answers = await Task.WhenAll(Enumerable.Range(0, calls).Select(async _ =>
        {
            using var answer = await flooder.GetAsync(new Uri("/api/v1/dead-letters", UriKind.Relative));
            return answer.StatusCode;
        }));
        var elapsed = clock.Elapsed;

        var refused = answers.Count(x => x == HttpStatusCode.Unauthorized);
        var limited = answers.Count(x => x == HttpStatusCode.TooManyRequests);
        Assert.Equal(calls, refused + limited);
        // Every 401 the edge answered is on record ...
        var audited = await topology.Database("DeadLetters").ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-401' AND detail LIKE '% (X-Forwarded-For: 127.0.0.3)'");
        Assert.Equal(refused, audited);
        // ... and no more were passed on than the budget (default 5 a second, a burst of 10) allows in the time it took,
        // however slow the machine: a flood of anonymous calls is not a flood of audit inserts.
        var budget = 10 + (5 * ((int)Math.Ceiling(elapsed.TotalSeconds) + 1));
        Assert.True(audited <= budget, $"{audited} refused calls audited in {elapsed}, budget {budget}");
    }

    /// <summary>A client whose connections come from <paramref name="address"/> (any 127.x address is loopback on Linux).</summary>
    private HttpClient FromAddress(string address, string? token = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler) { BaseAddress = topology.Api.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    private HttpClient Client(string token)
    {
        var client = new HttpClient { BaseAddress = topology.Api.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
