using System.Globalization;

namespace EventBackbone.Console.Components.Shared;

/// <summary>How values read on a page: times in UTC with the zone named, ages in words.</summary>
internal static class Show
{
    public static string Time(DateTimeOffset? at) =>
        at is { } value ? value.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";

    public static string Age(double? seconds) =>
        seconds switch
        {
            null => "—",
            < 60 => $"{seconds.Value:0} s",
            < 3600 => $"{seconds.Value / 60:0} min",
            < 86400 => $"{seconds.Value / 3600:0.#} h",
            _ => $"{seconds.Value / 86400:0.#} days",
        };

    public static string Number(int value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Short(string? text, int length = 120) =>
        text is null ? "—" : text.Length <= length ? text : string.Concat(text.AsSpan(0, length), "…");

    /// <summary>A query string from name/value pairs, blanks left out: every screen's state lives in its URL.</summary>
    public static string Url(string path, params (string Name, string? Value)[] parameters) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(
            path, parameters.Where(x => !string.IsNullOrWhiteSpace(x.Value)).Select(x => new KeyValuePair<string, string?>(x.Name, x.Value)));
}
