using System.Text;
using System.Text.Json;
using EventBackbone.Console.SignIn;
using Microsoft.AspNetCore.Http;

namespace EventBackbone.Console.Api;

/// <summary>
/// What the operator's sign-in allows, asked of the front door once per request: actions it lacks are shown disabled
/// with the scope they need. Only a courtesy: the API refuses (403, audited) whatever the page shows.
/// </summary>
internal sealed class OperatorPermissions(BackboneApi api, IHttpContextAccessor accessor)
{
    public const string ReadScope = "dead-letters:read";
    public const string ReplayScope = "dead-letters:replay";
    public const string EditScope = "dead-letters:edit";
    public const string DeleteScope = "dead-letters:delete";
    public const string ReportsScope = "reports:read";
    public const string SignupsScope = "signups:read";

    private Permissions? _permissions;

    /// <summary>Why the permissions endpoint could not be asked, when the token's own scopes were read instead.</summary>
    public string? FallbackReason { get; private set; }

    public async Task<Permissions> GetAsync(CancellationToken cancellationToken)
    {
        if (_permissions is not null)
        {
            return _permissions;
        }

        var answer = await api.PermissionsAsync(cancellationToken);
        if (answer.Ok)
        {
            return _permissions = answer.Value;
        }

        // An older front door without /me/permissions: the token's own scope claim says the same (the token is not
        // validated here; that is each API's job, and they still refuse what the token does not grant).
        FallbackReason = answer.Problem.Message;
        var scopes = accessor.HttpContext is { } context ? ScopesOf(await ConsoleAuthentication.AccessTokenAsync(context)) : [];
        return _permissions = new Permissions(
            accessor.HttpContext?.User.FindFirst("sub")?.Value,
            scopes,
            new Capabilities(
                scopes.Contains(ReadScope), scopes.Contains(ReplayScope), scopes.Contains(EditScope), scopes.Contains(DeleteScope),
                scopes.Contains(ReportsScope), scopes.Contains(SignupsScope)));
    }

    /// <summary>The reason shown beside a disabled action.</summary>
    public static string Lacks(string scope) => $"Your sign-in lacks the scope {scope}.";

    internal static IReadOnlyList<string> ScopesOf(string? token)
    {
        var parts = token?.Split('.');
        if (parts is not { Length: 3 })
        {
            return [];
        }

        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            using var json = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
            var scopes = new List<string>();
            foreach (var name in new[] { "scope", "scp" })
            {
                if (json.RootElement.TryGetProperty(name, out var claim))
                {
                    scopes.AddRange(claim.ValueKind == JsonValueKind.Array
                        ? claim.EnumerateArray().Select(x => x.GetString() ?? "")
                        : (claim.GetString() ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries));
                }
            }

            return scopes;
        }
        catch (Exception malformed) when (malformed is FormatException or JsonException or InvalidOperationException)
        {
            return [];
        }
    }
}
