using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.TestInfrastructure;
using MassTransit;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>The operators' CLI, as its own process, against the dead-letter service as its own process.</summary>
[Trait("Tier", "EndToEnd")]
public sealed class CliEndToEndSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    [Fact]
    public async Task Operators_list_inspect_replay_archive_and_delete_through_the_cli_with_exit_codes_scripts_can_trust()
    {
        var service = new OrderService();
        var bus = await DeadLetterCaptureSpecs.StartBuggyServiceAsync(infrastructure, service);
        await using var api = DeadLetterCrashSpecs.StartDeadLetters(infrastructure);
        await api.WaitUntilReadyAsync(HostProcess.StartTimeout);
        try
        {
            var noCustomer = Enumerable.Range(0, 3).Select(_ => NewId.NextGuid()).ToList();
            var badTotal = NewId.NextGuid();
            var badTotalOrder = NewId.NextGuid();
            foreach (var id in noCustomer)
            {
                await bus.Publish(new OrderPlaced(NewId.NextGuid(), "null-customer"), context => context.MessageId = id);
            }

            await bus.Publish(new OrderPlaced(badTotalOrder, "bad-total"), context => context.MessageId = badTotal);
            var store = infrastructure.Database("DeadLetters");
            await Eventually.HoldsAsync(async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters") == 4, TimeSpan.FromSeconds(30),
                () => $"The failed orders were not captured.\n{api.Logs}");
            var everything = DeadLetterCaptureSpecs.Token("operator", DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope, DeadLetterActions.EditScope, DeadLetterActions.DeleteScope);

            var list = await CliAsync(api, everything, "list", "--json");
            Assert.Equal(0, list.ExitCode);
            Assert.Equal(4, JsonDocument.Parse(list.Out).RootElement.GetProperty("items").GetArrayLength());

            var groups = await CliAsync(api, everything, "groups");
            Assert.Equal(0, groups.ExitCode);
            Assert.Contains("InvalidOperationException", groups.Out, StringComparison.Ordinal);
            Assert.Contains("FormatException", groups.Out, StringComparison.Ordinal);

            // The body only on request: that request is the audited read.
            var show = await CliAsync(api, everything, "show", badTotal.ToString());
            Assert.Equal(0, show.ExitCode);
            Assert.Contains("show it with --body", show.Out, StringComparison.Ordinal);
            var withBody = await CliAsync(api, everything, "show", badTotal.ToString(), "--body");
            Assert.Equal(0, withBody.ExitCode);
            Assert.Contains(badTotalOrder.ToString(), withBody.Out, StringComparison.Ordinal);

            // Exit codes: 3 without a token or the scope, 4 for an unknown message, 2 for a malformed call.
            Assert.Equal(3, (await CliAsync(api, token: null, "list")).ExitCode);
            Assert.Equal(3, (await CliAsync(api, DeadLetterCaptureSpecs.Token("intruder", DeadLetterActions.ReplayScope), "list")).ExitCode);
            Assert.Equal(4, (await CliAsync(api, everything, "show", Guid.NewGuid().ToString())).ExitCode);
            Assert.Equal(2, (await CliAsync(api, everything, "show", "not-a-guid")).ExitCode);
            Assert.Equal(2, (await CliAsync(api, everything, "delete", badTotal.ToString())).ExitCode);
            Assert.Equal(2, (await CliAsync(api, everything, "replay")).ExitCode);

            // The bug is fixed: the group goes back, with progress on stderr and a clean summary on stdout.
            service.BugFixed = true;
            var fingerprint = await store.ScalarAsync<string>("SELECT fingerprint FROM dead_letters WHERE message_id = @id", ("id", noCustomer[0]));
            var replay = await CliAsync(api, everything, "replay", "--fingerprint", fingerprint!, "--reason", "customer lookup fixed");
            Assert.True(replay.ExitCode == 0, replay.ToString());
            Assert.Contains("Replaying", replay.Error, StringComparison.Ordinal);
            Assert.Contains("3 replayed", replay.Out, StringComparison.Ordinal);
            await Eventually.HoldsAsync(() => Task.FromResult(service.Processed.Count == 3), TimeSpan.FromSeconds(15), () => "The replays did not arrive.");
            Assert.True(noCustomer.ToHashSet().SetEquals(service.Processed.Select(x => x.MessageId)));
            // The same group again finds nothing dead: refused, not silently "done".
            Assert.Equal(5, (await CliAsync(api, everything, "replay", "--fingerprint", fingerprint!)).ExitCode);

            Assert.Equal(0, (await CliAsync(api, everything, "archive", badTotal.ToString(), "--reason", "wrong price list")).ExitCode);
            Assert.Equal(5, (await CliAsync(api, everything, "archive", badTotal.ToString(), "--reason", "twice")).ExitCode);
            Assert.Equal(0, (await CliAsync(api, everything, "delete", badTotal.ToString(), "--reason", "order cancelled")).ExitCode);

            var audit = await CliAsync(api, everything, "audit", "--json");
            Assert.Equal(0, audit.ExitCode);
            var actions = JsonDocument.Parse(audit.Out).RootElement.EnumerateArray()
                .Where(x => x.GetProperty("actor").GetString() == "operator").Select(x => x.GetProperty("action").GetString()).ToList();
            Assert.Equal(1, actions.Count(x => x == "read-body"));
            Assert.Equal(3, actions.Count(x => x == "replay"));
            Assert.Contains("archive", actions);
            Assert.Contains("delete", actions);
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    private static async Task<CliRun> CliAsync(HostProcess api, string? token, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliAssembly);
        start.ArgumentList.Add("dead-letters");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The environment route, as operators configure it; an inherited token must not stand in for a missing one.
        start.Environment["BACKBONE_URL"] = api.BaseAddress.ToString();
        start.Environment.Remove("BACKBONE_TOKEN");
        if (token is not null)
        {
            start.Environment["BACKBONE_TOKEN"] = token;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new CliRun(process.ExitCode, await output, await error);
    }

    private static string CliAssembly { get; } = Path.Combine(
        RepositoryLayout.Root, "src", "Cli", "bin",
        Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug", "net10.0", "backbone.dll");

    private sealed record CliRun(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
    }
}
