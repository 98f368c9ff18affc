using System.Net;
using System.Text.Json;

namespace EventBackbone.Cli.Tests;

/// <summary><c>list</c>, <c>groups</c>, <c>show</c> and <c>audit</c>: the request each sends and what it prints.</summary>
public sealed class ReadCommandSpecs : IDisposable
{
    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task List_sends_every_filter_as_the_APIs_query_parameters()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page());

        var result = await _cli.RunAsync(
            "dead-letters", "list", "--queue", "orders", "--message-type", "OrderSubmitted", "--exception", "System.TimeoutException",
            "--fingerprint", Samples.Fingerprint, "--from", "2026-11-28T09:00:00Z", "--to", "2026-11-29", "--q", "reset by peer", "--limit", "20");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        var request = Assert.Single(_cli.Api.Requests);
        Assert.Equal(HttpMethod.Get, request.Method);
        Assert.Equal(
            "/api/v1/dead-letters?queue=orders&messageType=OrderSubmitted&exception=System.TimeoutException&fingerprint=" + Samples.Fingerprint
            + "&from=2026-11-28T09%3A00%3A00.0000000%2B00%3A00&to=2026-11-29T00%3A00%3A00.0000000%2B00%3A00&q=reset%20by%20peer&limit=20",
            request.PathAndQuery);
        Assert.Equal("http://api.test:5083/api/v1/dead-letters", request.Uri.GetLeftPart(UriPartial.Path));
    }

    [Fact]
    public async Task List_without_options_sends_no_query()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page());

        await _cli.RunAsync("dead-letters", "list");

        Assert.Equal("/api/v1/dead-letters", Assert.Single(_cli.Api.Requests).PathAndQuery);
    }

    [Fact]
    public async Task List_prints_an_aligned_table_with_short_type_names()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page(null, null, Samples.Summary(), Samples.Summary(Samples.OtherId, queue: "billing-invoices")));

        var result = await _cli.RunAsync("dead-letters", "list");

        var lines = result.Out.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("ID", lines[0]);
        Assert.Contains("MESSAGE TYPE", lines[0]);
        Assert.StartsWith(Samples.Id, lines[1]);
        Assert.Contains(" OrderSubmitted ", lines[1]);
        Assert.Contains(" InvalidOperationException ", lines[1]);
        Assert.DoesNotContain("urn:message", lines[1]);
        Assert.Contains("2026-11-28 08:30:15Z", lines[1]);
        Assert.EndsWith("dead", lines[1]);
        // Aligned: every row's columns start where the header's do.
        Assert.Equal(lines[0].IndexOf("QUEUE", StringComparison.Ordinal), lines[1].IndexOf("orders", StringComparison.Ordinal));
        Assert.Equal(lines[0].IndexOf("MESSAGE TYPE", StringComparison.Ordinal), lines[2].IndexOf("OrderSubmitted", StringComparison.Ordinal));
        Assert.Equal("", result.Error);
    }

    [Fact]
    public async Task List_truncates_a_long_cell_with_an_ellipsis()
    {
        var queue = new string('q', 80);
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page(null, null, Samples.Summary(queue: queue)));

        var result = await _cli.RunAsync("dead-letters", "list");

        Assert.DoesNotContain(queue, result.Out);
        Assert.Contains(new string('q', 29) + "…", result.Out);
    }

    [Fact]
    public async Task List_says_so_when_there_are_no_dead_letters()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page());

        var result = await _cli.RunAsync("dead-letters", "list");

        Assert.Equal("No dead letters.", result.Out.Trim());
    }

    [Fact]
    public async Task List_with_json_prints_the_APIs_json_and_no_table()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page(null, null, Samples.Summary()));

        var result = await _cli.RunAsync("dead-letters", "list", "--json");

        using var printed = JsonDocument.Parse(result.Out);
        Assert.Equal(Samples.Id, printed.RootElement.GetProperty("items")[0].GetProperty("messageId").GetString());
        Assert.Equal("urn:message:EventBackbone.Contracts:OrderSubmitted", printed.RootElement.GetProperty("items")[0].GetProperty("messageType").GetString());
        Assert.DoesNotContain("MESSAGE TYPE", result.Out);
        Assert.Contains("\n  \"items\": [\n    {", result.Out.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task A_page_with_more_after_it_names_the_total_and_the_next_cursor_on_stderr_not_stdout()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page("bmV4dA", 9, Samples.Summary(), Samples.Summary(Samples.OtherId)));

        var result = await _cli.RunAsync("dead-letters", "list", "--limit", "2", "--json");

        Assert.Contains("note: showing 2 of 9; the next page: --cursor bmV4dA", result.Error);
        Assert.Equal(2, JsonDocument.Parse(result.Out).RootElement.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task List_sends_the_status_tab_and_the_cursor_it_was_given()
    {
        _cli.Api.Respond(HttpStatusCode.OK, Samples.Page());

        var result = await _cli.RunAsync("dead-letters", "list", "--status", "archived", "--cursor", "bmV4dA");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal("/api/v1/dead-letters?status=archived&cursor=bmV4dA", Assert.Single(_cli.Api.Requests).PathAndQuery);
        Assert.Equal("", result.Error);
    }

    [Fact]
    public async Task List_refuses_an_unknown_status_without_calling_the_API()
    {
        var result = await _cli.RunAsync("dead-letters", "list", "--status", "lost");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Empty(_cli.Api.Requests);
    }

    [Fact]
    public async Task Groups_prints_one_row_per_fingerprint()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""
            [{"fingerprint":"{{Samples.Fingerprint}}","exceptionType":"System.TimeoutException","messageType":"urn:message:Shop:OrderSubmitted",
              "sampleExceptionMessage":"timed out","count":42,"firstFailedAt":"2026-11-27T00:00:00Z","lastFailedAt":"2026-11-28T00:00:00Z"}]
            """);

        var result = await _cli.RunAsync("dead-letters", "groups");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal("/api/v1/dead-letters/groups", Assert.Single(_cli.Api.Requests).PathAndQuery);
        var row = result.Out.Split('\n')[1];
        Assert.StartsWith(Samples.Fingerprint, row);
        Assert.Contains(" 42 ", row);
        Assert.Contains("TimeoutException", row);
        Assert.Contains("timed out", row);
    }

    [Fact]
    public async Task Show_with_body_prints_fields_then_headers_then_the_body_it_read_from_the_body_endpoint_indented()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""
            {"summary":{{Samples.Summary()}},"correlationId":null,"stackTrace":"at Shop.Handle()","consumerType":"Shop.OrderConsumer",
             "host":"worker-1","contentType":"application/json","bodyLength":24,
             "headers":"{\"MT-Fault-Message\":\"boom\",\"MT-Redelivery-Count\":3}"}
            """).Respond(HttpStatusCode.OK, $$"""{"messageId":"{{Samples.Id}}","contentType":"application/json","body":"{\"orderId\":7,\"lines\":[1]}"}""");

        var result = await _cli.RunAsync("dead-letters", "show", Samples.Id, "--body");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal([$"/api/v1/dead-letters/{Samples.Id}", $"/api/v1/dead-letters/{Samples.Id}/body"], _cli.Api.Requests.Select(x => x.PathAndQuery));
        var text = result.Out.ReplaceLineEndings("\n");
        Assert.Matches(@"Message id:\s+" + Samples.Id, text);
        Assert.Matches(@"Consumer:\s+Shop\.OrderConsumer", text);
        Assert.Matches(@"Correlation id:\s+-", text);
        Assert.Contains("Headers:\n  MT-Fault-Message: boom\n  MT-Redelivery-Count: 3\n", text);
        Assert.Contains("Body:\n{\n  \"orderId\": 7,", text);
        Assert.True(text.IndexOf("Stack trace:", StringComparison.Ordinal) < text.IndexOf("Headers:", StringComparison.Ordinal));
        Assert.True(text.IndexOf("Headers:", StringComparison.Ordinal) < text.IndexOf("Body:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Show_without_body_reads_no_body_and_says_how_large_it_is()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""{"summary":{{Samples.Summary()}},"bodyLength":24,"headers":"{}"}""");

        var result = await _cli.RunAsync("dead-letters", "show", Samples.Id);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal($"/api/v1/dead-letters/{Samples.Id}", Assert.Single(_cli.Api.Requests).PathAndQuery);
        Assert.Contains("Body: 24 bytes (show it with --body; the read is audited)", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_prints_the_history_of_failures_and_replays_in_time_order()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""
            {"summary":{{Samples.Summary()}},"body":"{}","headers":"{}",
             "failures":[{"failedAt":"2026-11-28T08:00:00Z","sourceQueue":"orders_error","exceptionType":"System.TimeoutException","exceptionMessage":"timed out"},
                         {"failedAt":"2026-11-28T10:00:00Z","sourceQueue":"orders_error","exceptionType":"System.TimeoutException","exceptionMessage":"timed out again"}],
             "replays":[{"failureCount":1,"status":"confirmed","requestedBy":"alice","requestedAt":"2026-11-28T09:00:00Z","confirmedAt":"2026-11-28T09:00:01Z"}]}
            """);

        var result = await _cli.RunAsync("dead-letters", "show", Samples.Id);

        var text = result.Out.ReplaceLineEndings("\n");
        var first = text.IndexOf("failed in orders_error: System.TimeoutException timed out\n", StringComparison.Ordinal);
        var replay = text.IndexOf("replay of failure 1 by alice: confirmed", StringComparison.Ordinal);
        var again = text.IndexOf("timed out again", StringComparison.Ordinal);
        Assert.True(first > 0 && replay > first && again > replay, text);
        Assert.True(text.IndexOf("History:", StringComparison.Ordinal) < text.IndexOf("Headers:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Show_prints_a_recorded_input_address_mismatch()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""
            {"summary":{{Samples.Summary()}},"body":"{}","headers":"{}",
             "inputAddressMismatch":"MT-Fault-InputAddress 'rabbitmq://h/v/payments' names queue 'payments', not 'orders'"}
            """);

        var result = await _cli.RunAsync("dead-letters", "show", Samples.Id);

        Assert.Matches(@"Input address:\s+MISMATCH: MT-Fault-InputAddress 'rabbitmq://h/v/payments' names queue 'payments', not 'orders'", result.Out);
    }

    [Fact]
    public async Task Show_prints_a_body_that_is_not_json_as_it_is()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""
            {"summary":{{Samples.Summary()}},"contentType":"text/plain","bodyLength":12,"headers":"{}"}
            """).Respond(HttpStatusCode.OK, $$"""{"messageId":"{{Samples.Id}}","contentType":"text/plain","body":"plain <text>"}""");

        var result = await _cli.RunAsync("dead-letters", "show", Samples.Id, "--body");

        Assert.Contains("Body:\nplain <text>", result.Out.ReplaceLineEndings("\n"));
        Assert.Contains("Headers:\n  (none)", result.Out.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Audit_sends_the_limit_and_prints_a_table()
    {
        _cli.Api.Respond(HttpStatusCode.OK, $$"""
            [{"id":12,"at":"2026-11-28T09:00:00Z","actor":"alice","action":"delete","messageId":"{{Samples.Id}}","detail":"duplicate"},
             {"id":11,"at":"2026-11-28T08:00:00Z","actor":"anonymous","action":"refused","messageId":null,"detail":null}]
            """);

        var result = await _cli.RunAsync("dead-letters", "audit", "--limit", "5");

        Assert.Equal("/api/v1/dead-letters/audit?limit=5", Assert.Single(_cli.Api.Requests).PathAndQuery);
        var lines = result.Out.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("12 ", lines[1]);
        Assert.Contains("alice", lines[1]);
        Assert.Contains(Samples.Id, lines[1]);
        Assert.EndsWith("duplicate", lines[1]);
        Assert.Contains("refused", lines[2]);
    }
}
