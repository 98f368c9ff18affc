using System.Net;
using System.Text.Json;

namespace EventBackbone.Cli.Tests;

/// <summary>Replaying several messages, a group or a filter: the job request, following its progress, and the outcome.</summary>
public sealed class ReplayJobSpecs : IDisposable
{
    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    private void JobAccepted(int total = 40) =>
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("running", total, 0), location: Samples.JobLocation);

    [Fact]
    public async Task Several_ids_start_one_job_with_the_ids_and_the_reason()
    {
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("completed", 2, 2), location: Samples.JobLocation);

        var result = await _cli.RunAsync("dead-letters", "replay", Samples.Id, Samples.OtherId, "--reason", "hotfix deployed");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/api/v1/dead-letters/replay", request.PathAndQuery);
        Json.Equal($$"""{"messageIds":["{{Samples.Id}}","{{Samples.OtherId}}"],"reason":"hotfix deployed"}""", request.Body);
    }

    [Fact]
    public async Task A_fingerprint_starts_a_job_for_that_group()
    {
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("completed", 3, 3), location: Samples.JobLocation);

        await _cli.RunAsync("dead-letters", "replay", "--fingerprint", Samples.Fingerprint);

        Json.Equal($$"""{"fingerprint":"{{Samples.Fingerprint}}"}""", _cli.Api.Requests[0].Body);
    }

    [Fact]
    public async Task Filter_options_start_a_job_for_the_filter()
    {
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("completed", 3, 3), location: Samples.JobLocation);

        await _cli.RunAsync(
            "dead-letters", "replay", "--queue", "orders", "--message-type", "OrderSubmitted", "--exception", "System.TimeoutException",
            "--from", "2026-11-28T09:00:00+01:00", "--to", "2026-11-29T00:00:00Z", "--q", "timeout", "--reason", "broker back");

        Json.Equal("""
            {"filter":{"queue":"orders","messageType":"OrderSubmitted","exception":"System.TimeoutException",
                       "from":"2026-11-28T09:00:00+01:00","to":"2026-11-29T00:00:00+00:00","q":"timeout"},
             "reason":"broker back"}
            """, _cli.Api.Requests[0].Body);
    }

    [Fact]
    public async Task A_dry_run_asks_the_dry_run_endpoint_prints_the_count_per_queue_and_starts_nothing()
    {
        _cli.Api.Respond(HttpStatusCode.OK, """
            {"count":3,"queues":[{"queue":"orders","count":2},{"queue":"billing","count":1}],"oldestFailedAt":"2026-11-28T08:00:00Z",
             "newestFailedAt":"2026-11-28T09:00:00Z","alreadyReplayed":0,"onlyFailingQueue":true,
             "note":"A replay is sent to each message's failing queue only; no other subscriber sees it."}
            """);

        var result = await _cli.RunAsync("dead-letters", "replay", "--fingerprint", Samples.Fingerprint, "--dry-run", "--canary", "1");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal("/api/v1/dead-letters/replay/dry-run", request.PathAndQuery);
        Json.Equal($$"""{"fingerprint":"{{Samples.Fingerprint}}"}""", request.Body);
        Assert.Contains("Would replay 3 message(s); nothing was sent.", result.Out, StringComparison.Ordinal);
        Assert.Contains("2  to orders", result.Out, StringComparison.Ordinal);
        Assert.Contains("no other subscriber sees it", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_canary_and_a_rate_go_with_the_job_request_even_for_one_message()
    {
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("completed", 1, 1), location: Samples.JobLocation);

        var result = await _cli.RunAsync("dead-letters", "replay", Samples.Id, "--canary", "1", "--rate", "5", "--reason", "try one");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal("/api/v1/dead-letters/replay", request.PathAndQuery);
        Json.Equal($$"""{"messageIds":["{{Samples.Id}}"],"reason":"try one","canary":1,"ratePerSecond":5}""", request.Body);
    }

    [Fact]
    public async Task Jobs_lists_the_replay_jobs_newest_first_and_names_the_next_page()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""{"items":[{{Samples.Job("running", 40, 10)}}],"next":"b2xkZXI"}""");

        var result = await _cli.RunAsync("dead-letters", "jobs", "--status", "running");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal("/api/v1/dead-letters/replays?status=running", Assert.Single(_cli.Api.Requests).PathAndQuery);
        Assert.Contains(Samples.JobId, result.Out, StringComparison.Ordinal);
        Assert.Contains("running", result.Out, StringComparison.Ordinal);
        Assert.Contains("--cursor b2xkZXI", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Job_cancel_posts_the_cancel_and_prints_the_stopped_job()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("cancelled", 40, 10).Replace("\"finishedAt\":null", "\"finishedAt\":\"2026-11-28T09:01:00+00:00\"", StringComparison.Ordinal));

        var result = await _cli.RunAsync("dead-letters", "job", Samples.JobId, "--cancel");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal($"/api/v1/dead-letters/replays/{Samples.JobId}/cancel", request.PathAndQuery);
        Assert.Contains("cancelled", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nothing_selected_is_a_usage_error_and_calls_no_API()
    {
        var result = await _cli.RunAsync("dead-letters", "replay", "--reason", "why not");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("error: nothing selected", result.Error);
        Assert.Empty(_cli.Api.Requests);
    }

    [Fact]
    public async Task Ids_and_a_fingerprint_together_are_a_usage_error()
    {
        var result = await _cli.RunAsync("dead-letters", "replay", Samples.Id, "--fingerprint", Samples.Fingerprint);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Empty(_cli.Api.Requests);
    }

    [Fact]
    public async Task The_job_is_polled_until_completed_with_the_bar_on_stderr_and_the_summary_on_stdout()
    {
        _cli.ErrorIsTerminal = true;
        JobAccepted();
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 40, 12));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 40, 30));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 40, 38, already: 2));

        var result = await _cli.RunAsync("dead-letters", "replay", "--fingerprint", Samples.Fingerprint);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(4, _cli.Api.Requests.Count);
        Assert.All(_cli.Api.Requests.Skip(1), poll =>
        {
            Assert.Equal(HttpMethod.Get, poll.Method);
            Assert.Equal(Samples.JobLocation, poll.PathAndQuery);
        });
        Assert.Contains("\rReplaying [######--------------] 12/40", result.Error);
        Assert.Contains("\rReplaying [###############-----] 30/40", result.Error);
        Assert.Contains("\rReplaying [####################] 40/40", result.Error);
        Assert.EndsWith("40/40" + Environment.NewLine, result.Error);
        Assert.DoesNotContain("Replaying", result.Out);
        Assert.Equal(
            $"Replay job {Samples.JobId} completed: 38 replayed, 2 already replayed, 0 not found, 0 failed (of 40).",
            result.Out.Trim());
    }

    [Fact]
    public async Task With_json_the_final_job_is_printed_and_nothing_else_on_stdout()
    {
        JobAccepted();
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 40, 40));

        var result = await _cli.RunAsync("dead-letters", "replay", "--queue", "orders", "--json");

        using var job = JsonDocument.Parse(result.Out);
        Assert.Equal("completed", job.RootElement.GetProperty("status").GetString());
        Assert.Equal(40, job.RootElement.GetProperty("replayed").GetInt32());
        Assert.Contains("Replaying", result.Error);
    }

    [Fact]
    public async Task Into_a_log_the_progress_is_a_line_per_tenth_done_not_per_poll()
    {
        _cli.ErrorIsTerminal = false;
        JobAccepted(total: 100);
        // Polls less than a second apart: only a new tenth done earns a line.
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 100, 1));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 100, 2));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 100, 11));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 100, 100));
        _cli.Api.OnRequest = _ => _cli.Clock.Now += TimeSpan.FromMilliseconds(250);

        var result = await _cli.RunAsync("dead-letters", "replay", "--queue", "orders");

        Assert.DoesNotContain("\r", result.Error);
        var lines = result.Error.ReplaceLineEndings("\n").TrimEnd().Split('\n');
        Assert.Equal(
            ["Replaying [--------------------] 0/100", "Replaying [##------------------] 11/100", "Replaying [####################] 100/100"],
            lines);
    }

    [Fact]
    public async Task Into_a_log_a_slow_job_still_gets_a_line_a_second()
    {
        JobAccepted(total: 100);
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 100, 1));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 100, 2));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 100, 100));
        _cli.Api.OnRequest = _ => _cli.Clock.Now += TimeSpan.FromSeconds(1);

        var result = await _cli.RunAsync("dead-letters", "replay", "--queue", "orders");

        Assert.Contains("1/100", result.Error);
        Assert.Contains("2/100", result.Error);
    }

    [Fact]
    public async Task No_wait_returns_after_starting_the_job()
    {
        JobAccepted();

        var result = await _cli.RunAsync("dead-letters", "replay", "--fingerprint", Samples.Fingerprint, "--no-wait");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Single(_cli.Api.Requests);
        Assert.Contains($"Replay job {Samples.JobId} is running", result.Out);
        Assert.Contains("http://api.test:5083" + Samples.JobLocation, result.Out);
        Assert.Equal("", result.Error);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(0, 1)]
    public async Task A_job_that_finished_with_failed_or_missing_messages_exits_1(int failed, int notFound)
    {
        JobAccepted();
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 40, 40 - failed - notFound, failed: failed, notFound: notFound));

        var result = await _cli.RunAsync("dead-letters", "replay", "--fingerprint", Samples.Fingerprint);

        Assert.Equal(ExitCodes.PartialFailure, result.ExitCode);
        Assert.Contains($"{notFound} not found, {failed} failed (of 40)", result.Out);
    }

    [Fact]
    public async Task A_poll_that_fails_says_the_job_keeps_running_and_where_to_follow_it()
    {
        JobAccepted();
        _cli.Api.Problem(HttpStatusCode.ServiceUnavailable, "Unavailable", "restarting");

        var result = await _cli.RunAsync("dead-letters", "replay", "--fingerprint", Samples.Fingerprint);

        Assert.Equal(ExitCodes.Unavailable, result.ExitCode);
        Assert.Contains($"replay job {Samples.JobId} keeps running", result.Error);
        Assert.Contains("error: Unavailable: restarting", result.Error);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task Without_a_location_header_the_job_is_polled_at_its_id()
    {
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("running", 2, 0));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 2, 2));

        await _cli.RunAsync("dead-letters", "replay", Samples.Id, Samples.OtherId);

        Assert.Equal(Samples.JobLocation, _cli.Api.Requests[1].PathAndQuery);
    }

    [Fact]
    public async Task A_job_is_shown_again_by_its_id_and_followed_until_it_completes()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("running", 40, 12));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 40, 40));

        var result = await _cli.RunAsync("dead-letters", "job", Samples.JobId, "--follow");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.All(_cli.Api.Requests, request => Assert.Equal($"/api/v1/dead-letters/replays/{Samples.JobId}", request.PathAndQuery));
        Assert.Equal(2, _cli.Api.Requests.Count);
        Assert.Contains("40 replayed", result.Out);
    }

    [Fact]
    public async Task Resuming_a_job_asks_the_server_to_run_again_what_failed_and_reports_failures_that_remain()
    {
        _cli.Api.Respond(HttpStatusCode.Accepted, Samples.Job("running", 40, 38));
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Job("completed", 40, 39, failed: 1));

        var result = await _cli.RunAsync("dead-letters", "job", Samples.JobId, "--resume");

        Assert.Equal(ExitCodes.PartialFailure, result.ExitCode);
        Assert.Equal(HttpMethod.Post, _cli.Api.Requests[0].Method);
        Assert.Equal($"/api/v1/dead-letters/replays/{Samples.JobId}/resume", _cli.Api.Requests[0].PathAndQuery);
        Assert.Equal(HttpMethod.Get, _cli.Api.Requests[1].Method);
    }
}
