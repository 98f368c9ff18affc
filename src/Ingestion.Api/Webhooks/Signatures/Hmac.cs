using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EventBackbone.Ingestion.Api.Webhooks.Signatures;

internal static class Hmac
{
    public static byte[] Sha256(byte[] key, ReadOnlySpan<byte> content) => HMACSHA256.HashData(key, content);

    /// <summary><c>prefix || body</c> as the signed content, without copying the body twice.</summary>
    public static byte[] Sha256(byte[] key, string prefix, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(Encoding.UTF8.GetBytes(prefix));
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }

    /// <summary>Constant time in the length of <paramref name="expected"/>: no early exit tells an attacker how close they got.</summary>
    public static bool Matches(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> presented) =>
        CryptographicOperations.FixedTimeEquals(expected, presented);

    /// <summary>
    /// True when <paramref name="unixSeconds"/> is a plain number within <paramref name="tolerance"/> of
    /// <paramref name="now"/>, either way. Clamped first, so an absurd value is "out of tolerance", not an exception.
    /// </summary>
    public static bool IsTimely(string? unixSeconds, DateTimeOffset now, TimeSpan tolerance) =>
        long.TryParse(unixSeconds, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
        && Math.Abs((now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253402300799))).TotalSeconds) <= tolerance.TotalSeconds;

    public static byte[]? FromHex(string hex)
    {
        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public static byte[]? FromBase64(string base64)
    {
        var buffer = new byte[base64.Length];
        return Convert.TryFromBase64String(base64, buffer, out var written) ? buffer[..written] : null;
    }
}
