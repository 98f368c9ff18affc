using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

/// <summary>What a verb works with once its arguments are parsed.</summary>
internal sealed record Session(DeadLetterApiClient Api, CliContext Context, bool Json)
{
    /// <summary>
    /// Tables and text go through <see cref="TerminalSafeWriter"/>: they print fields a hostile producer or caller wrote.
    /// <c>--json</c> does not need it (and must not change the data): the JSON writer escapes every control character.
    /// </summary>
    public TextWriter Out { get; } = Json ? Context.Out : new TerminalSafeWriter(Context.Out);

    /// <summary>Errors quote the API's problem details, which can quote a dead letter.</summary>
    public TextWriter Error { get; } = new TerminalSafeWriter(Context.Error);

    /// <summary>Prints the answer as JSON with <c>--json</c>, else in the verb's own human form.</summary>
    public void Print(ApiResponse response, Action human)
    {
        if (Json)
        {
            JsonOutput.Write(Out, response.Body);
        }
        else
        {
            human();
        }
    }
}
