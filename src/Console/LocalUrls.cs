namespace EventBackbone.Console;

/// <summary>Return addresses taken from a form or query string.</summary>
internal static class LocalUrls
{
    /// <summary>The URL if it is a path on this site, else the home page: a crafted link cannot send the operator elsewhere after an action.</summary>
    public static string OrHome(string? returnUrl) =>
        returnUrl is { Length: > 0 } && returnUrl[0] == '/' && !returnUrl.StartsWith("//", StringComparison.Ordinal) && !returnUrl.StartsWith("/\\", StringComparison.Ordinal)
            ? returnUrl
            : "/";
}
