using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

/// <summary>What a verb works with once its arguments are parsed.</summary>
internal sealed record Session(DeadLetterApiClient Api, CliContext Context, bool Json)
{
    public TextWriter Out => Context.Out;

    public TextWriter Error => Context.Error;

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
