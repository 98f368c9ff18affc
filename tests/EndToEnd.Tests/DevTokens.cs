using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>Access tokens from the API's own <c>dev-token</c> command, signed with a fixture's key, as an operator would mint them.</summary>
internal static class DevTokens
{
    public static async Task<string> MintAsync(string signingKey, string subject, string scopes)
    {
        await using var mint = HostProcess.StartAssembly("dev-token", RepositoryLayout.HostAssembly("Ingestion.Api"),
            new Dictionary<string, string> { ["Backbone:Auth:SigningKeys:0"] = signingKey },
            ["dev-token", "--scope", scopes, "--subject", subject]);
        Assert.Equal(0, await mint.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        return mint.Output.Trim();
    }
}
