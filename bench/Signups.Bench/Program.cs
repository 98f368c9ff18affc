using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

// Completed signups per second end to end: RequestSignup → account → welcome at the provider → VerifyEmail (sent as
// soon as the welcome arrives) → Completed, through the real Ingestion.Api, Workers and Sagas processes on RabbitMQ and
// PostgreSQL. Per signup, where the time went: stage by stage, from the client's clock and the saga's history.
var smoke = args.Contains("--smoke");
var signups = smoke ? 20 : BenchConsole.ReadInt(args, "--signups", 300);
var concurrency = BenchConsole.ReadInt(args, "--concurrency", 16);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, press) =>
{
    press.Cancel = true;
    cancel.Cancel();
};

var signingKey = TestSigningKey.Generate();
var infrastructure = new BackboneInfrastructure();
var hosts = new List<HostProcess>();
try
{
    await infrastructure.InitializeAsync();
    var provider = Track(HostProcess.StartAssembly(
        "NotificationProvider.Stub", RepositoryLayout.TestProgramAssembly("NotificationProvider.Stub"), new Dictionary<string, string>(), []));
    await provider.WaitUntilReadyAsync(HostProcess.StartTimeout);
    var settings = new Dictionary<string, string>(infrastructure.HostSettings())
    {
        ["Backbone:Auth:SigningKeys:0"] = signingKey,
        ["Backbone:Notifications:ProviderUrl"] = provider.BaseAddress.ToString(),
        // Info-level per-message lines are what production logs too; the bench keeps them.
    };
    var workers = Track(HostProcess.Start("Workers", settings));
    var sagas = Track(HostProcess.Start("Sagas", settings));
    var api = Track(HostProcess.Start("Ingestion.Api", settings));
    await Task.WhenAll(workers.WaitUntilReadyAsync(HostProcess.StartTimeout), sagas.WaitUntilReadyAsync(HostProcess.StartTimeout), api.WaitUntilReadyAsync(HostProcess.StartTimeout));
    await using (var mint = HostProcess.StartAssembly("dev-token", RepositoryLayout.HostAssembly("Ingestion.Api"), settings,
        ["dev-token", "--scope", "commands:signup commands:verify-email signups:read", "--subject", "signups-bench"]))
    {
        await mint.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var token = mint.Output.Trim();
        api.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        sagas.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    Console.WriteLine($"Signups.Bench {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {(smoke ? "smoke" : "full")} run: {signups} signups, "
        + $"{concurrency} at a time; load average at the start: {BenchConsole.LoadAverage()}");
    // Warm-up: JIT and connection pools in every process, charged to nobody.
    await RunAsync(Math.Min(10, signups), concurrency);
    var clock = Stopwatch.StartNew();
    var results = await RunAsync(signups, concurrency);
    var elapsed = clock.Elapsed;

    var stages = new (string Name, Func<SignupTimeline, double> Value, bool Saga)[]
    {
        ("command accepted (202)", x => x.Accepted, false),
        ("202 → saga started (edge outbox → RabbitMQ → saga)", x => x.SagaStarted - x.Accepted, true),
        ("saga started → account created, seen by the saga (saga → Users → saga)", x => x.AccountSeen - x.SagaStarted, true),
        ("account seen → welcome at the provider (saga → Notifications → provider)", x => x.Welcomed - x.AccountSeen, false),
        ("welcome → verify sent (client poll)", x => x.VerifySent - x.Welcomed, false),
        ("verify sent → saga completed (edge → saga)", x => x.SagaCompleted - x.VerifySent, true),
    };
    Console.WriteLine();
    Console.WriteLine($"completed signups: {results.Count} in {elapsed.TotalSeconds:0.0} s = **{results.Count / elapsed.TotalSeconds:0.0} signups/s**; "
        + $"end to end p50 {Percentile(results.Select(x => x.Total), 50):0} ms, p99 {Percentile(results.Select(x => x.Total), 99):0} ms");
    Console.WriteLine();
    Console.WriteLine("| stage (per signup, ms) | p50 | p99 | share of the mean |");
    Console.WriteLine("|---|---:|---:|---:|");
    var meanTotal = results.Average(x => x.Total);
    foreach (var (name, value, _) in stages)
    {
        var values = results.Select(value).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {Percentile(values, 50):0} | {Percentile(values, 99):0} | {values.Average() / meanTotal:P0} |"));
    }

    var sagaShare = stages.Where(x => x.Saga).Sum(stage => results.Average(stage.Value)) / meanTotal;
    Console.WriteLine();
    Console.WriteLine($"saga-handled hops (each includes a broker hop, the saga's inbox transaction and its outbox delivery): {sagaShare:P0} of the mean end-to-end time");
    Console.WriteLine($"load average at the end: {BenchConsole.LoadAverage()}");
    return 0;

    async Task<List<SignupTimeline>> RunAsync(int count, int parallel)
    {
        var timelines = new List<SignupTimeline>();
        using var gate = new SemaphoreSlim(parallel);
        var tasks = Enumerable.Range(0, count).Select(async _ =>
        {
            await gate.WaitAsync(cancel.Token);
            try
            {
                var timeline = await OneSignupAsync(api, sagas, provider, cancel.Token);
                lock (timelines)
                {
                    timelines.Add(timeline);
                }
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks);
        return timelines;
    }
}
catch (InfrastructureUnavailableException unavailable)
{
    await Console.Error.WriteLineAsync(unavailable.Message);
    return 3;
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("Cancelled.");
    return 130;
}
catch (Exception stuck) when (stuck is TimeoutException or HttpRequestException)
{
    // A signup that never completed: the figures would hide a broken workflow.
    await Console.Error.WriteLineAsync($"FAILED: {stuck.Message}");
    foreach (var host in hosts)
    {
        // The errors, not every request line: a failed run's cause is in the warnings and errors.
        var lines = host.Logs.Split('\n').Where(line => line.Contains("\"@l\":\"Error", StringComparison.Ordinal) || line.Contains("\"@l\":\"Warning", StringComparison.Ordinal));
        await Console.Error.WriteLineAsync($"----- {host.Project}\n{string.Join('\n', lines.TakeLast(20))}");
    }

    return 1;
}
finally
{
    foreach (var host in hosts)
    {
        await host.DisposeAsync();
    }

    await infrastructure.DisposeAsync();
}

HostProcess Track(HostProcess host)
{
    hosts.Add(host);
    return host;
}

static async Task<SignupTimeline> OneSignupAsync(HostProcess api, HostProcess sagas, HostProcess provider, CancellationToken cancellationToken)
{
    var email = $"bench-{Guid.NewGuid():N}@example.com";
    var started = Stopwatch.GetTimestamp();
    double Now() => Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    var requestedAt = DateTimeOffset.UtcNow;
    using var accepted = await api.Client.PostAsJsonAsync(new Uri("/api/v1/commands/request-signup", UriKind.Relative), new { email }, cancellationToken);
    accepted.EnsureSuccessStatusCode();
    var acceptedMs = Now();
    var signupId = (await accepted.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("commandId").GetGuid();
    await BenchConsole.PollAsync(async () =>
    {
        var delivered = await provider.Client.GetFromJsonAsync<JsonElement>(new Uri($"/notifications?recipient={Uri.EscapeDataString(email)}", UriKind.Relative), cancellationToken);
        return delivered.GetArrayLength() > 0;
    }, $"no welcome for signup {signupId}", TimeSpan.FromSeconds(60), cancellationToken);
    var welcomedMs = Now();
    using (var verify = await api.Client.PostAsJsonAsync(new Uri("/api/v1/commands/verify-email", UriKind.Relative), new { signupId }, cancellationToken))
    {
        verify.EnsureSuccessStatusCode();
    }

    var verifySentMs = Now();
    JsonElement signup = default;
    await BenchConsole.PollAsync(async () =>
    {
        using var response = await sagas.Client.GetAsync(new Uri($"/api/v1/signups/{signupId}", UriKind.Relative), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return false;
        }

        signup = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return signup.GetProperty("state").GetString() == "Completed";
    }, $"signup {signupId} never completed", TimeSpan.FromSeconds(60), cancellationToken);
    var totalMs = Now();

    // The saga's own clock for when it handled each event, relative to the client's request time.
    var history = signup.GetProperty("history").EnumerateArray()
        .ToDictionary(x => x.GetProperty("what").GetString()!, x => (x.GetProperty("at").GetDateTimeOffset() - requestedAt).TotalMilliseconds);
    var sagaStarted = history.First(x => x.Key.StartsWith("Signup requested", StringComparison.Ordinal)).Value;
    return new SignupTimeline(acceptedMs, sagaStarted, history["Account created"], welcomedMs, verifySentMs, history["Email address verified"], totalMs);
}

static double Percentile(IEnumerable<double> values, int percent)
{
    var sorted = values.Order().ToArray();
    return sorted[Math.Clamp((int)Math.Ceiling(percent / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1)];
}



/// <summary>Milliseconds since the client sent RequestSignup (saga stamps come from its host's clock, same machine).</summary>
internal sealed record SignupTimeline(double Accepted, double SagaStarted, double AccountSeen, double Welcomed, double VerifySent, double SagaCompleted, double Total);
