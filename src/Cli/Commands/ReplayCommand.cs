using System.CommandLine;
using EventBackbone.Cli.Api;
using EventBackbone.Cli.Output;

namespace EventBackbone.Cli.Commands;

/// <summary>
/// One message is replayed at once; several, a fingerprint or a filter start a replay job on the server, which this
/// command follows until it completes (unless <c>--no-wait</c>).
/// </summary>
internal static class ReplayCommand
{
    public static Command Create(CliContext context, GlobalOptions global)
    {
        var messageIds = new Argument<Guid[]>("messageIds")
        {
            Description = "Message ids to replay (GUIDs)",
            Arity = ArgumentArity.ZeroOrMore,
            CustomParser = Parsers.MessageIds,
        };
        var fingerprint = new Option<string?>("--fingerprint") { Description = "Replay every dead letter of this failure group (see 'groups')", HelpName = "FINGERPRINT" };
        var filter = new FilterOptions();
        var reason = new Option<string?>("--reason") { Description = "Why, for the audit", HelpName = "TEXT" };
        var noWait = new Option<bool>("--no-wait") { Description = "Start the replay job and return without following it" };
        var command = new Command("replay", "Send dead letters back to their queues: by id, by --fingerprint, or by filter options (exactly one of these)");
        command.Arguments.Add(messageIds);
        command.Options.Add(fingerprint);
        filter.AddTo(command);
        command.Options.Add(reason);
        command.Options.Add(noWait);
        command.SetVerbAction(context, global, (parse, session, cancellationToken) =>
        {
            var ids = parse.GetValue(messageIds) ?? [];
            var group = parse.GetValue(fingerprint);
            var where = filter.Read(parse);
            var selectors = (ids.Length > 0 ? 1 : 0) + (string.IsNullOrEmpty(group) ? 0 : 1) + (where is null ? 0 : 1);
            if (selectors == 0)
            {
                // An empty selection must never be read as "everything".
                throw new CliException(ExitCodes.Usage, "nothing selected: give message ids, --fingerprint, or filter options (--queue, --message-type, --exception, --from, --to, --q).");
            }

            if (selectors > 1)
            {
                // The API would silently use only one of them (ids before fingerprint before filter), not their intersection.
                throw new CliException(ExitCodes.Usage, "give message ids, --fingerprint, or filter options, not a combination of them.");
            }

            return ids.Length == 1
                ? ReplayOneAsync(session, ids[0], parse.GetValue(reason), cancellationToken)
                : ReplayManyAsync(session, new ReplayRequest(ids.Length > 0 ? ids : null, group, where, parse.GetValue(reason)), parse.GetValue(noWait), cancellationToken);
        });
        return command;
    }

    private static async Task<int> ReplayOneAsync(Session session, Guid id, string? reason, CancellationToken cancellationToken)
    {
        var response = await session.Api.PostAsync($"{DeadLetterApiClient.Root}/{id}/replay", new ReasonBody(reason), cancellationToken);
        var result = DeadLetterApiClient.Read<ReplayOneResult>(response);
        session.Print(response, () => session.Out.WriteLine(result.Outcome == "already-replayed"
            ? $"{result.MessageId} was already replayed; it was not sent again."
            : $"Replayed {result.MessageId}."));
        return ExitCodes.Success;
    }

    private static async Task<int> ReplayManyAsync(Session session, ReplayRequest request, bool noWait, CancellationToken cancellationToken)
    {
        var response = await session.Api.PostAsync(DeadLetterApiClient.Root + "/replay", request, cancellationToken);
        var job = DeadLetterApiClient.Read<ReplayJob>(response);
        var location = response.Location ?? JobUri(session.Api, job.JobId);
        if (!job.IsFinished && !noWait)
        {
            (response, job) = await FollowAsync(session, location, job, cancellationToken);
        }

        session.Print(response, () => session.Out.WriteLine(Summary(job, location)));
        return job.IsFinished && job.HasFailures ? ExitCodes.PartialFailure : ExitCodes.Success;
    }

    private static async Task<(ApiResponse Response, ReplayJob Job)> FollowAsync(Session session, Uri location, ReplayJob job, CancellationToken cancellationToken)
    {
        var progress = new ReplayProgress(session.Error, session.Context.ErrorIsTerminal, session.Context.Clock);
        ApiResponse response;
        try
        {
            progress.Report(job);
            do
            {
                await Task.Delay(session.Context.PollInterval, session.Context.Clock, cancellationToken);
                response = await session.Api.GetAsync(location.AbsoluteUri, cancellationToken);
                job = DeadLetterApiClient.Read<ReplayJob>(response);
                progress.Report(job);
            }
            while (!job.IsFinished);
        }
        catch (Exception stopped) when (stopped is CliException or OperationCanceledException)
        {
            progress.Finish();
            // The job runs on the server whatever happens to this process: say where to find it.
            session.Error.WriteLine($"note: replay job {job.JobId} keeps running on the server; follow it at GET {location}");
            throw;
        }

        progress.Finish();
        return (response, job);
    }

    private static Uri JobUri(DeadLetterApiClient api, Guid jobId) => new(api.BaseAddress, $"{DeadLetterApiClient.Root}/replays/{jobId}");

    private static string Summary(ReplayJob job, Uri location)
    {
        var counts = $"{job.Replayed} replayed, {job.AlreadyReplayed} already replayed, {job.NotFound} not found, {job.Failed} failed (of {job.Total})";
        return job.IsFinished
            ? $"Replay job {job.JobId} completed: {counts}."
            : $"Replay job {job.JobId} is running: {job.Total} messages to replay. Follow it at GET {location}";
    }
}
