using System.Security.Cryptography;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// A token signing key made at run time. A key written in the repository is public, and a host outside embedded mode
/// refuses it (Deployment.Tests' SigningKeySpecs makes sure of that), so a test that starts one needs a fresh key.
/// Hex, because a hex key never contains a word that marks a placeholder (every such word has a letter beyond a–f).
/// </summary>
public static class TestSigningKey
{
    public static string Generate() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
}
