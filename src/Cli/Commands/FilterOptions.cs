using System.CommandLine;
using System.Globalization;
using EventBackbone.Cli.Api;

namespace EventBackbone.Cli.Commands;

/// <summary>The list's filter, shared by <c>list</c> and <c>replay</c> so both select the same messages for the same options.</summary>
internal sealed class FilterOptions
{
    public Option<string?> Queue { get; } = new("--queue") { Description = "Source or target queue (exact)", HelpName = "QUEUE" };

    public Option<string?> MessageType { get; } = new("--message-type") { Description = "Message type (contains)", HelpName = "TYPE" };

    public Option<string?> Exception { get; } = new("--exception") { Description = "Exception type (exact, e.g. System.TimeoutException)", HelpName = "TYPE" };

    public Option<DateTimeOffset?> From { get; } = new("--from")
    {
        Description = "Last failure at or after this time (ISO 8601; UTC unless an offset is given)",
        HelpName = "TIME",
        CustomParser = Parsers.Time,
    };

    public Option<DateTimeOffset?> To { get; } = new("--to")
    {
        Description = "Last failure before this time (ISO 8601; UTC unless an offset is given)",
        HelpName = "TIME",
        CustomParser = Parsers.Time,
    };

    public Option<string?> Text { get; } = new("--q") { Description = "Text in the exception message (case-insensitive)", HelpName = "TEXT" };

    public void AddTo(Command command)
    {
        command.Options.Add(Queue);
        command.Options.Add(MessageType);
        command.Options.Add(Exception);
        command.Options.Add(From);
        command.Options.Add(To);
        command.Options.Add(Text);
    }

    /// <returns>The filter, or null when no option of it is given.</returns>
    public ReplayFilter? Read(ParseResult parse)
    {
        var filter = new ReplayFilter(
            parse.GetValue(Queue), parse.GetValue(MessageType), parse.GetValue(Exception), parse.GetValue(From), parse.GetValue(To), parse.GetValue(Text));
        return filter == new ReplayFilter(null, null, null, null, null, null) ? null : filter;
    }

    /// <summary>Round-trip format: the API reads back exactly the instant the operator gave.</summary>
    public static string? Iso(DateTimeOffset? at) => at?.ToString("O", CultureInfo.InvariantCulture);
}
