using System.CommandLine;
using System.Globalization;
using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

internal static class GroupsCommand
{
    public static Command Create(CliContext context, GlobalOptions global)
    {
        var command = new Command("groups", "Dead letters grouped by failure fingerprint, largest group first (replay one with 'replay --fingerprint')");
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var response = await session.Api.GetAsync(DeadLetterApiClient.Root + "/groups", cancellationToken);
            var groups = DeadLetterApiClient.Read<List<DeadLetterGroup>>(response);
            session.Print(response, () => Print(session.Out, groups));
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Print(TextWriter output, List<DeadLetterGroup> groups)
    {
        if (groups.Count == 0)
        {
            output.WriteLine("No dead letters.");
            return;
        }

        var table = new TextTable()
            .Column("FINGERPRINT")
            .Column("COUNT")
            .Column("EXCEPTION", 30)
            .Column("MESSAGE TYPE", 30)
            .Column("LAST FAILED")
            .Column("SAMPLE MESSAGE", 50);
        foreach (var group in groups)
        {
            table.Row(
                group.Fingerprint, group.Count.ToString(CultureInfo.InvariantCulture), Cells.ShortTypeName(group.ExceptionType),
                Cells.ShortTypeName(group.MessageType), Cells.Time(group.LastFailedAt), group.SampleExceptionMessage);
        }

        table.Write(output);
    }
}
