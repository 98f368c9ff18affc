using System.CommandLine;
using EventBackbone.Cli.Api;

namespace EventBackbone.Cli.Commands;

internal static class DeleteCommand
{
    public static Command Create(CliContext context, GlobalOptions global)
    {
        var messageId = ShowCommand.MessageIdArgument();
        var reason = new Option<string>("--reason") { Description = "Why, for the audit (required)", HelpName = "TEXT", Required = true };
        var command = new Command("delete", "Delete a dead letter for good (its audit entries stay)");
        command.Arguments.Add(messageId);
        command.Options.Add(reason);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var why = parse.GetValue(reason);
            if (string.IsNullOrWhiteSpace(why))
            {
                throw new CliException(ExitCodes.Usage, "a deletion needs a reason (--reason TEXT), for the audit.");
            }

            var id = parse.GetValue(messageId);
            var response = await session.Api.DeleteAsync($"{DeadLetterApiClient.Root}/{id}{DeadLetterApiClient.Query(("reason", why))}", cancellationToken);
            // 204 has no body, so --json prints nothing: the exit code is the answer.
            session.Print(response, () => session.Out.WriteLine($"Deleted {id}."));
            return ExitCodes.Success;
        });
        return command;
    }
}
