using System.CommandLine;
using EventBackbone.Cli.Api;

namespace EventBackbone.Cli.Commands;

/// <summary><c>archive</c> and <c>restore</c>: the same request to two endpoints.</summary>
internal static class StatusCommand
{
    public static Command Archive(CliContext context, GlobalOptions global) =>
        Create(context, global, "archive", "Archive a dead letter (hidden from groups and replay by fingerprint or filter; restorable)", "Archived");

    public static Command Restore(CliContext context, GlobalOptions global) =>
        Create(context, global, "restore", "Restore an archived dead letter to dead", "Restored");

    private static Command Create(CliContext context, GlobalOptions global, string verb, string description, string done)
    {
        var messageId = ShowCommand.MessageIdArgument();
        var reason = new Option<string?>("--reason") { Description = "Why, for the audit", HelpName = "TEXT" };
        var command = new Command(verb, description);
        command.Arguments.Add(messageId);
        command.Options.Add(reason);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var id = parse.GetValue(messageId);
            var response = await session.Api.PostAsync($"{DeadLetterApiClient.Root}/{id}/{verb}", new ReasonBody(parse.GetValue(reason)), cancellationToken);
            var change = DeadLetterApiClient.Read<StatusChange>(response);
            session.Print(response, () => session.Out.WriteLine($"{done} {change.MessageId}: its status is now {change.Status}."));
            return ExitCodes.Success;
        });
        return command;
    }
}
