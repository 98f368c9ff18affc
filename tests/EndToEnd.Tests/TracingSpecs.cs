using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>
/// One trace per accepted command, across every process and hop it causes: the API request, the outbox delivery, the
/// broker, each consumer, the saga and the call to the notification provider — read from the spans the hosts exported
/// over OTLP to a collector the test runs.
/// </summary>
public sealed class TracingSpecs(SignupWorkflowFixture workflow) : IClassFixture<SignupWorkflowFixture>
{
    [Fact]
    public async Task A_signup_webhook_is_one_trace_from_the_api_request_through_the_outbox_consumers_saga_and_provider_call()
    {
        var email = $"traced-webhook-{Guid.NewGuid():N}@example.com";
        var body = $$"""{"type":"signup.requested","data":{"email":"{{email}}"} }""";
        await AssertOneTraceAsync(email, "POST /api/v1/webhooks", "integrations-webhook-received process", traceparent =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/webhooks/signups", UriKind.Relative))
            {
                Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("X-Signature", WebhookSigning.Sha256Header(SignupWorkflowFixture.SignupFormSecret, body));
            request.Headers.Add("traceparent", traceparent);
            return request;
        });
    }

    [Fact]
    public async Task A_signup_command_is_one_trace_from_the_api_request_through_the_outbox_consumers_saga_and_provider_call()
    {
        var email = $"traced-command-{Guid.NewGuid():N}@example.com";
        await AssertOneTraceAsync(email, "POST /api/v1/commands/request-signup", null, traceparent =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/commands/request-signup", UriKind.Relative))
            {
                Content = JsonContent.Create(new { email }),
            };
            request.Headers.Add("traceparent", traceparent);
            return request;
        });
    }

    /// <param name="translation">The consumer that turns the accepted request into the saga's first event, if any.</param>
    private async Task AssertOneTraceAsync(string email, string edgeSpan, string? translation, Func<string, HttpRequestMessage> request)
    {
        await workflow.SetProviderAsync("ok");
        var traceId = ActivityTraceId.CreateRandom();
        // The caller's trace: the edge continues it rather than starting another.
        using var message = request($"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var accepted = await workflow.Api.Client.SendAsync(message);
        Assert.True(accepted.IsSuccessStatusCode, await accepted.Content.ReadAsStringAsync());
        await workflow.WaitForWelcomeAsync(email, TimeSpan.FromSeconds(60));

        var trace = traceId.ToString();
        IReadOnlyList<CollectedSpan> Spans() => [.. workflow.Collector.Spans.Where(x => x.TraceId == trace)];
        string Describe() => string.Join('\n', Spans().Select(x => $"{x.Service} {x.Name} kind={x.Kind} {x.SpanId} <- {x.ParentSpanId}"));
        // Server 2, client 3, producer 4, consumer 5 (OTLP's SpanKind).
        bool Has(string service, int kind, string nameContains) =>
            Spans().Any(x => x.Service.Contains(service, StringComparison.Ordinal) && x.Kind == kind && x.Name.Contains(nameContains, StringComparison.OrdinalIgnoreCase));
        await Eventually.HoldsAsync(
            () => Task.FromResult(
                Has("Ingestion.Api", 2, edgeSpan)
                && Has("Ingestion.Api", 4, "outbox send")
                && (translation is null || Has("Workers", 5, translation))
                && Has("Sagas", 5, "signup-state process")
                && Has("Workers", 5, "create-user-account process")
                && Has("Workers", 5, "send-notification process")
                && Has("Workers", 3, "POST")),
            TimeSpan.FromSeconds(30),
            () => $"The trace {trace} is missing hops; it has:\n{Describe()}");

        // One tree: the only parent outside the trace's spans is the caller's. A parent is exported when it ends, after
        // its children, so the tree is waited for, not read at once.
        List<CollectedSpan> Roots()
        {
            var ids = Spans().Select(x => x.SpanId).ToHashSet();
            return [.. Spans().Where(x => x.ParentSpanId is null || !ids.Contains(x.ParentSpanId))];
        }

        await Eventually.HoldsAsync(
            () => Task.FromResult(Roots() is [var root] && root.Service.Contains("Ingestion.Api", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(15),
            Describe);
        var spans = Spans();
        // The provider call is made inside the notification consumer's span.
        var providerCall = spans.First(x => x.Service.Contains("Workers", StringComparison.Ordinal) && x.Kind == 3 && x.Name == "POST");
        Assert.Contains(spans, x => x.SpanId == providerCall.ParentSpanId && x.Name == "send-notification process");
    }

    [Fact]
    public async Task Every_host_serves_its_metrics_for_prometheus_with_the_backbone_and_masstransit_figures_of_a_run()
    {
        await workflow.SetProviderAsync("ok");
        var email = $"metered-{Guid.NewGuid():N}@example.com";
        await workflow.RequestSignupAsync(email);
        await workflow.WaitForWelcomeAsync(email, TimeSpan.FromSeconds(60));
        using (var accepted = await workflow.PostGitHubWebhookAsync("""{"ref":"refs/heads/main","commits":[]}"""))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);
        }

        using (var forged = await workflow.PostGitHubWebhookAsync("""{"ref":"refs/heads/main"}""", signature: "sha256=00"))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, forged.StatusCode);
        }

        // Prometheus text: one "name{labels} value" line per series.
        async Task<double> SumAsync(HostProcess host, string metric, string labelContains = "")
        {
            var text = await host.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            return text.Split('\n')
                .Where(line => line.StartsWith(metric + "{", StringComparison.Ordinal) && line.Contains(labelContains, StringComparison.Ordinal))
                .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }

        var expected = new (HostProcess Host, string Metric, string Label, double AtLeast)[]
        {
            (workflow.Api, "backbone_outbox_delivered_total", "", 2),
            (workflow.Api, "backbone_webhooks_accepted_total", "source=\"github\"", 1),
            (workflow.Api, "backbone_webhooks_rejected_total", "reason=\"signature\"", 1),
            (workflow.Workers, "messaging_masstransit_consume_ea_total", "", 2),
            (workflow.Workers, "backbone_outbox_delivered_total", "", 1),
            (workflow.Sagas, "messaging_masstransit_saga_ea_total", "", 1),
            (workflow.Sagas, "backbone_outbox_delivered_total", "", 1),
        };
        var found = new double[expected.Length];
        await Eventually.HoldsAsync(
            async () =>
            {
                for (var i = 0; i < expected.Length; i++)
                {
                    found[i] = await SumAsync(expected[i].Host, expected[i].Metric, expected[i].Label);
                }

                return expected.Select((x, i) => found[i] >= x.AtLeast).All(x => x);
            },
            TimeSpan.FromSeconds(30),
            () => string.Join('\n', expected.Select((x, i) => $"{x.Host.Project} {x.Metric}{{{x.Label}}} = {found[i]} (at least {x.AtLeast})")));
        // The gauges are served too (zero is their right value once everything is delivered).
        var api = await workflow.Api.Client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("backbone_outbox_pending{", api, StringComparison.Ordinal);
        Assert.Contains("backbone_outbox_oldest_pending_age_seconds{", api, StringComparison.Ordinal);
        Assert.Contains("backbone_scheduler_due{", api, StringComparison.Ordinal);
    }
}
