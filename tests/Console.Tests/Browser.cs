using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace EventBackbone.Console.Tests;

/// <summary>What a browser would do with the console's forms: read the antiforgery token from a page and post it back.</summary>
internal static partial class Browser
{
    public static string AntiforgeryToken(string html) =>
        AntiforgeryField().Match(html) is { Success: true } match
            ? WebUtility.HtmlDecode(match.Groups["value"].Value)
            : throw new InvalidOperationException("The page has no antiforgery token field.");

    public static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(x => new KeyValuePair<string, string>(x.Name, x.Value)));

    /// <summary>A JWT-shaped token (unsigned: the console does not verify tokens, the APIs do) with <paramref name="padding"/> extra claim bytes.</summary>
    public static string Token(string subject, string scope, int padding = 0, long expires = 4102444800)
    {
        var payload = $"{{\"sub\":\"{subject}\",\"scope\":\"{scope}\",\"exp\":{expires},\"pad\":\"{new string('x', padding)}\"}}";
        return $"eyJhbGciOiJIUzI1NiJ9.{Base64Url(payload)}.c2lnbmF0dXJl";
    }

    /// <summary>Signs in through the development page, as an operator pasting a token would.</summary>
    public static async Task<HttpResponseMessage> SignInAsync(HttpClient browser, string token)
    {
        var page = await browser.GetStringAsync("/sign-in/dev");
        return await browser.PostAsync("/sign-in/dev", Form(("__RequestVerificationToken", AntiforgeryToken(page)), ("Token", token), ("ReturnUrl", "/")));
    }

    private static string Base64Url(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*value=\"(?<value>[^\"]+)\"")]
    private static partial Regex AntiforgeryField();
}
