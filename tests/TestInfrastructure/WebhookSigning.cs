using System.Security.Cryptography;
using System.Text;

namespace EventBackbone.TestInfrastructure;

/// <summary>Signs test webhooks the way GitHub and our generic HMAC sources expect: <c>sha256=&lt;hex HMAC-SHA256&gt;</c>.</summary>
public static class WebhookSigning
{
    public static string Sha256Header(string secret, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));
}
