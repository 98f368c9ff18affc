using Xunit;

namespace EventBackbone.TestInfrastructure;

/// <summary>Access tokens from the API host's own <c>dev-token</c> command, signed with a fixture's key, as an operator mints them.</summary>
public static class MintedTokens
{
    public static async Task<string> MintAsync(string signingKey, string subject, string scopes)
    {
        await using var mint = HostProcess.StartAssembly($"dev-token {subject}", RepositoryLayout.HostAssembly("Ingestion.Api"),
            new Dictionary<string, string> { ["Backbone:Auth:SigningKeys:0"] = signingKey },
            ["dev-token", "--scope", scopes, "--subject", subject]);
        Assert.Equal(0, await mint.WaitForExitAsync(HostProcess.StartTimeout));
        return mint.Output.Trim();
    }
}
