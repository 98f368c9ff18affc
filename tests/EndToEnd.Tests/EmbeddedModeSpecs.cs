using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>The README's run command: one process, in-memory transport, no servers needed.</summary>
public sealed class EmbeddedModeSpecs
{
    [Fact]
    public async Task The_embedded_backbone_starts_with_no_settings_and_consumes_a_posted_webhook()
    {
        // No settings at all: what a newcomer with only the .NET SDK gets.
        await using var backbone = HostProcess.Start("Embedded", new Dictionary<string, string>());

        await backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);

        // Signed with the demo source's documented dev secret, exactly as README's curl command does.
        const string body = """{"hello":"backbone"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/demo", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Signature", WebhookSigning.Sha256Header("demo-dev-secret", body));
        using var response = await backbone.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"Expected 202, got {(int)response.StatusCode}.\n{backbone.Logs}");
        var eventId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("eventId").GetGuid();
        await Eventually.HoldsAsync(
            () => Task.FromResult(backbone.Output.Contains($"Consumed webhook {eventId} from demo", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            () => backbone.Logs);
    }

    [Fact]
    public async Task In_embedded_mode_the_front_door_routes_resolve_in_process_and_still_need_a_token()
    {
        await using var backbone = HostProcess.Start("Embedded", new Dictionary<string, string>());
        await backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);
        await using var mint = HostProcess.StartAssembly("dev-token", RepositoryLayout.HostAssembly("Embedded"), new Dictionary<string, string>(),
            ["dev-token", "--scope", "reports:read signups:read", "--subject", "embedded-operator"]);
        Assert.Equal(0, await mint.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        using var anonymous = await backbone.Client.GetAsync(new Uri("/api/v1/reports/signup-funnel", UriKind.Relative));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/reports/signup-funnel", UriKind.Relative));
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", mint.Output.Trim());
        using var authorised = await backbone.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.True(authorised.StatusCode == HttpStatusCode.OK, $"{(int)authorised.StatusCode}\n{backbone.Logs}");
        Assert.True((await authorised.Content.ReadFromJsonAsync<JsonElement>()).TryGetProperty("requested", out _));
    }

    [Fact]
    public async Task The_console_s_stylesheet_and_script_are_served_whole_by_the_backbone_run_from_its_build()
    {
        // As README's `dotnet run --project src/Embedded` runs it: the build output, not published, environment Production.
        // ASP.NET Core serves static web assets from a build only in Development; elsewhere it answered 200 with no body
        // and no Content-Type, and the browser refused both (nosniff): an unstyled console whose job page never updated.
        await using var backbone = HostProcess.Start("Embedded", new Dictionary<string, string>());
        await backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);

        foreach (var (asset, contentType) in new[] { ("console-assets/console.css", "text/css"), ("console-assets/console.js", "text/javascript") })
        {
            using var response = await backbone.Client.GetAsync(new Uri("/" + asset, UriKind.Relative));

            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{asset}: {(int)response.StatusCode}\n{backbone.Logs}");
            Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(RepositoryLayout.Root, "src", "Console", "wwwroot", asset)), body);
        }
    }

    [Fact]
    public async Task A_build_copied_away_from_the_folders_its_asset_manifest_names_still_starts()
    {
        // A build's asset manifest names folders of the machine that built it (the source tree, the NuGet cache). Read
        // outside Development, a folder that is not there made the host exit at start (DirectoryNotFoundException):
        // worse than a console without its stylesheet.
        var copy = Directory.CreateTempSubdirectory("embedded-copy-");
        try
        {
            var built = Path.GetDirectoryName(RepositoryLayout.HostAssembly("Embedded"))!;
            foreach (var file in Directory.EnumerateFiles(built, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy.FullName, Path.GetRelativePath(built, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            var manifest = Path.Combine(copy.FullName, "EventBackbone.Embedded.staticwebassets.runtime.json");
            var assets = JsonNode.Parse(await File.ReadAllTextAsync(manifest))!;
            var roots = assets["ContentRoots"]!.AsArray();
            for (var index = 0; index < roots.Count; index++)
            {
                roots[index] = Path.Combine(copy.FullName, $"gone-{index}") + "/";
            }

            await File.WriteAllTextAsync(manifest, assets.ToJsonString());

            await using var backbone = HostProcess.StartAssembly(
                "Embedded (copied)", Path.Combine(copy.FullName, "EventBackbone.Embedded.dll"), new Dictionary<string, string>(), []);

            await backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_embedded_backbone_says_once_at_start_that_nothing_is_durable()
    {
        await using var backbone = HostProcess.Start("Embedded", new Dictionary<string, string>());

        await backbone.WaitUntilReadyAsync(HostProcess.StartTimeout);

        var warnings = backbone.Output.Split('\n').Count(line => line.Contains("NOTHING IS DURABLE", StringComparison.Ordinal));
        Assert.True(warnings == 1, $"Expected the warning once, found it {warnings} times.\n{backbone.Logs}");
    }
}
