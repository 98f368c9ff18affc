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
        var dryRun = new Option<bool>("--dry-run") { Description = "Say how many messages would go to which queues, and send nothing" };
        var canary = new Option<int?>("--canary") { Description = "Replay only the first N, then stop the job so their outcome can be checked ('job ID --resume' runs the rest)", HelpName = "N", CustomParser = Parsers.PositiveInt };
        var rate = new Option<int?>("--rate") { Description = "At most N replays a second [default: unthrottled]", HelpName = "N", CustomParser = Parsers.PositiveInt };
        var command = new Command("replay", "Send dead letters back to their queues: by id, by --fingerprint, or by filter options (exactly one of these)");
        command.Arguments.Add(messageIds);
        command.Options.Add(fingerprint);
        filter.AddTo(command);
        command.Options.Add(reason);
        command.Options.Add(noWait);
        command.Options.Add(dryRun);
        command.Options.Add(canary);
        command.Options.Add(rate);
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

            var request = new ReplayRequest(ids.Length > 0 ? ids : null, group, where, parse.GetValue(reason), parse.GetValue(canary), parse.GetValue(rate));
            if (parse.GetValue(dryRun))
            {
                return DryRunAsync(session, request, cancellationToken);
            }

            // A canary or a rate needs a job: even one message then goes through the job, not the immediate replay.
            return ids.Length == 1 && request.Canary is null && request.RatePerSecond is null
                ? ReplayOneAsync(session, ids[0], parse.GetValue(reason), cancellationToken)
                : ReplayManyAsync(session, request, parse.GetValue(noWait), cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// <c>job &lt;jobId&gt;</c>: a replay job's progress — to follow one again after this tool was stopped, or, with
    /// <c>--resume</c>, to run again what failed (e.g. while the broker was away). The server resumes a job interrupted
    /// by its own crash by itself; nothing confirmed is sent twice either way.
    /// </summary>
    public static Command Job(CliContext context, GlobalOptions global)
    {
        var jobId = new Argument<Guid>("jobId") { Description = "The replay job's id (from 'replay')", CustomParser = Parsers.MessageId };
        var follow = new Option<bool>("--follow") { Description = "Follow the job until it completes, with a progress bar" };
        var resume = new Option<bool>("--resume") { Description = "Run again what has not been replayed (failed, cancelled, after a canary, or not yet done), then follow" };
        var cancel = new Option<bool>("--cancel") { Description = "Stop the job after the message being replayed; --resume continues it" };
        var command = new Command("job", "A replay job's progress; --follow to wait for it, --resume to run again what failed, --cancel to stop it");
        command.Arguments.Add(jobId);
        command.Options.Add(follow);
        command.Options.Add(resume);
        command.Options.Add(cancel);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var id = parse.GetValue(jobId);
            var location = JobUri(session.Api, id);
            if (parse.GetValue(cancel) && parse.GetValue(resume))
            {
                throw new CliException(ExitCodes.Usage, "give --cancel or --resume, not both.");
            }

            var response = parse.GetValue(resume)
                ? await session.Api.PostAsync($"{DeadLetterApiClient.Root}/replays/{id}/resume", new { }, cancellationToken)
                : parse.GetValue(cancel)
                    ? await session.Api.PostAsync($"{DeadLetterApiClient.Root}/replays/{id}/cancel", new { }, cancellationToken)
                    : await session.Api.GetAsync(location.AbsoluteUri, cancellationToken);
            var job = DeadLetterApiClient.Read<ReplayJob>(response);
            if (!job.IsFinished && (parse.GetValue(follow) || parse.GetValue(resume)))
            {
                (response, job) = await FollowAsync(session, location, job, cancellationToken);
            }

            session.Print(response, () => session.Out.WriteLine(Summary(job, location)));
            return job.IsFinished && job.HasFailures ? ExitCodes.PartialFailure : ExitCodes.Success;
        });
        return command;
    }

    /// <summary><c>jobs</c>: the replay jobs, newest first, one page at a time.</summary>
    public static Command Jobs(CliContext context, GlobalOptions global)
    {
        var status = new Option<string?>("--status") { Description = "Only jobs in this status (running, completed, failed, cancelled, canary-complete)", HelpName = "STATUS" };
        var cursor = new Option<string?>("--cursor") { Description = "The page after the one that printed this cursor", HelpName = "CURSOR" };
        var command = new Command("jobs", "Replay jobs, newest first");
        command.Options.Add(status);
        command.Options.Add(cursor);
        command.SetVerbAction(context, global, async (parse, session, cancellationToken) =>
        {
            var response = await session.Api.GetAsync(
                $"{DeadLetterApiClient.Root}/replays{DeadLetterApiClient.Query(("status", parse.GetValue(status)), ("cursor", parse.GetValue(cursor)))}", cancellationToken);
            var page = DeadLetterApiClient.Read<ReplayJobPage>(response);
            session.Print(response, () =>
            {
                if (page.Items.Count == 0)
                {
                    session.Out.WriteLine("No replay jobs.");
                    return;
                }

                var table = new TextTable().Column("JOB").Column("STATUS").Column("DONE").Column("TOTAL").Column("BY", 20).Column("CREATED").Column("REASON", 40);
                foreach (var job in page.Items)
                {
                    table.Row(job.JobId.ToString(), job.Status, job.Done.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        job.Total.ToString(System.Globalization.CultureInfo.InvariantCulture), job.RequestedBy, job.CreatedAt is { } at ? Cells.Time(at) : "-", job.Reason);
                }

                table.Write(session.Out);
            });
            if (page.Next is { } next)
            {
                session.Error.WriteLine($"note: there are older jobs; the next page: --cursor {next}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<int> DryRunAsync(Session session, ReplayRequest request, CancellationToken cancellationToken)
    {
        var response = await session.Api.PostAsync(DeadLetterApiClient.Root + "/replay/dry-run", request with { Canary = null, RatePerSecond = null }, cancellationToken);
        var dryRun = DeadLetterApiClient.Read<ReplayDryRun>(response);
        session.Print(response, () =>
        {
            session.Out.WriteLine($"Would replay {dryRun.Count} message(s){(dryRun.AlreadyReplayed > 0 ? $" ({dryRun.AlreadyReplayed} already replayed: not sent again)" : "")}; nothing was sent.");
            foreach (var queue in dryRun.Queues)
            {
                session.Out.WriteLine($"  {queue.Count,6}  to {queue.Queue}");
            }

            if (dryRun.OldestFailedAt is { } oldest && dryRun.NewestFailedAt is { } newest)
            {
                session.Out.WriteLine($"Failed between {Cells.Time(oldest)} and {Cells.Time(newest)}.");
            }

            if (dryRun.Note is { Length: > 0 } note)
            {
                session.Out.WriteLine(note);
            }
        });
        return ExitCodes.Success;
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

    // The bar's own \r redraws it, so it writes to the raw stderr; it prints only numbers and its own text.
    private static async Task<(ApiResponse Response, ReplayJob Job)> FollowAsync(Session session, Uri location, ReplayJob job, CancellationToken cancellationToken)
    {
        var progress = new ReplayProgress(session.Context.Error, session.Context.ErrorIsTerminal, session.Context.Clock);
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
            session.Error.WriteLine($"note: replay job {job.JobId} keeps running on the server; follow it with 'backbone dead-letters job {job.JobId} --follow'");
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
            ? $"Replay job {job.JobId} {job.Status}: {counts}."
            : $"Replay job {job.JobId} is running: {job.Total} messages to replay. Follow it with 'backbone dead-letters job {job.JobId} --follow' (GET {location}).";
    }
}
