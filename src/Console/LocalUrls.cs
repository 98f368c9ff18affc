namespace EventBackbone.Console;

/// <summary>Return addresses taken from a form or query string.</summary>
internal static class LocalUrls
{
    /// <summary>
    /// The URL if it is a path on this site, else the home page: a crafted link cannot send the operator elsewhere after
    /// an action. A control character or backslash anywhere refuses it: browsers drop tabs and newlines and read "\" as
    /// "/", so "/\t/evil.example" was followed as "//evil.example", another site.
    /// </summary>
    public static string OrHome(string? returnUrl) =>
        returnUrl is { Length: > 0 } && returnUrl[0] == '/' && !returnUrl.StartsWith("//", StringComparison.Ordinal)
            && !returnUrl.Any(c => char.IsControl(c) || c == '\\')
            ? returnUrl
            : "/";
}
