using System.Globalization;

namespace EventBackbone.Cli.Output;

/// <summary>How values are shortened for a table cell.</summary>
public static class Cells
{
    public const string Ellipsis = "…";

    /// <summary>
    /// <c>urn:message:Shop.Contracts:OrderSubmitted</c> and <c>Shop.Contracts.OrderSubmitted</c> both become
    /// <c>OrderSubmitted</c>; MassTransit may list several types separated by ';', the first is the message's own.
    /// </summary>
    public static string ShortTypeName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return "-";
        }

        var first = name.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? name;
        // A generic argument list would otherwise be cut at one of its own dots.
        var generic = first.IndexOfAny(['[', '<']);
        var head = generic > 0 ? first[..generic] : first;
        var cut = head.LastIndexOfAny([':', '.', '+']);
        return cut >= 0 && cut < first.Length - 1 ? first[(cut + 1)..] : first;
    }

    public static string Truncate(string? text, int width)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "-";
        }

        // One line per row: a multi-line exception message would break the table; terminal sequences go before the
        // width is counted (they print nothing, or worse than nothing).
        var line = TerminalText.Strip(text).ReplaceLineEndings(" ").Replace('\t', ' ');
        return line.Length <= width ? line : string.Concat(line.AsSpan(0, Math.Max(0, width - Ellipsis.Length)), Ellipsis);
    }

    /// <summary>UTC, to the second: the same instant reads the same on every operator's machine.</summary>
    public static string Time(DateTimeOffset? at) =>
        at is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "-";
}
