using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace EventBackbone.DeadLetters.Tests;

public sealed record OrderPlaced(Guid OrderId, string Failure);

/// <summary>What the consumers of the test service did, and whether its bug has been "fixed".</summary>
public sealed class OrderService
{
    public volatile bool BugFixed;

    public System.Collections.Concurrent.ConcurrentQueue<(Guid MessageId, bool HasFaultHeaders)> Processed { get; } = new();

    public System.Collections.Concurrent.ConcurrentQueue<Guid> Audited { get; } = new();

    /// <summary>MT-OriginalMessageId of each processed message that carried one (edited replays).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> OriginalIds { get; } = new();
}

/// <summary>A consumer with two bugs: each failure kind throws from its own line, so they fingerprint apart.</summary>
public sealed class BuggyOrderConsumer(OrderService service) : IConsumer<OrderPlaced>
{
    public Task Consume(ConsumeContext<OrderPlaced> context)
    {
        if (!service.BugFixed)
        {
            switch (context.Message.Failure)
            {
                case "null-customer":
                    throw new InvalidOperationException($"Order {context.Message.OrderId} has no customer");
                case "bad-total":
                    throw new FormatException($"Order {context.Message.OrderId} has a total that is not a number");
            }
        }

        service.Processed.Enqueue((context.MessageId!.Value, context.Headers.Any(x => x.Key.StartsWith("MT-Fault-", StringComparison.Ordinal))));
        if (context.Headers.Get<string>("MT-OriginalMessageId") is { } original)
        {
            service.OriginalIds.Enqueue(original);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Another subscriber of the same message type: a replay must not reach it.</summary>
public sealed class OrderAuditConsumer(OrderService service) : IConsumer<OrderPlaced>
{
    public Task Consume(ConsumeContext<OrderPlaced> context)
    {
        service.Audited.Enqueue(context.MessageId!.Value);
        return Task.CompletedTask;
    }
}

public sealed class DeadLetterInfrastructure() : BackboneInfrastructure("DeadLetters");

[Trait("Tier", "Integration")]
public sealed class DeadLetterCaptureSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    internal static readonly string SigningKey = TestSigningKey.Generate();

    [Fact]
    public async Task Failed_messages_are_captured_with_their_fault_headers_grouped_by_cause_and_readable_by_operators()
    {
        await using var app = StartDeadLetters(infrastructure);
        // Starts the host, and with it the capture.
        using var client = app.CreateClient();
        var bus = await StartBuggyServiceAsync(infrastructure);
        try
        {
            await PublishAndAssertAsync(app, bus);
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    private async Task PublishAndAssertAsync(WebApplicationFactory<Program> app, IBusControl bus)
    {
        var failing = new List<OrderPlaced>();
        for (var i = 0; i < 5; i++)
        {
            failing.Add(new OrderPlaced(NewId.NextGuid(), "null-customer"));
        }

        for (var i = 0; i < 2; i++)
        {
            failing.Add(new OrderPlaced(NewId.NextGuid(), "bad-total"));
        }

        var messageIds = new List<Guid>();
        foreach (var order in failing.Concat([new OrderPlaced(NewId.NextGuid(), "none")]))
        {
            var messageId = NewId.NextGuid();
            messageIds.Add(messageId);
            await bus.Publish(order, context => context.MessageId = messageId);
        }

        var store = infrastructure.Database("DeadLetters");
        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters") == 7,
            TimeSpan.FromSeconds(30),
            () => "The seven failed orders were not all captured.");
        // Only the failed ones, each under its own MessageId, aimed back at the queue that failed.
        Assert.Equal(7, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids) AND target_queue = 'buggy-orders' AND source_queue = 'buggy-orders_error'",
            ("ids", messageIds.Take(7).ToArray())));
        // Acknowledged once stored: the error queue is empty (the management API's figures lag by up to 5 s).
        await Eventually.HoldsAsync(
            async () => JsonDocument.Parse(await infrastructure.VirtualHost.GetQueueJsonAsync("buggy-orders_error")).RootElement
                .TryGetProperty("messages", out var count) && count.GetInt32() == 0,
            TimeSpan.FromSeconds(30),
            () => "buggy-orders_error still holds messages that were stored.");
        Assert.Equal("System.InvalidOperationException", await store.ScalarAsync<string>(
            "SELECT headers->>'MT-Fault-ExceptionType' FROM dead_letters WHERE message_id = @id", ("id", messageIds[0])));

        // For the on-call dashboards: captured and waiting, by queue (the gauge is refreshed each discovery round). At
        // least: the other test classes' services run in this process too, on queues of the same name.
        using var scraper = app.CreateClient();
        double Sum(string metrics, string name) => metrics.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) && line.Contains("queue=\"buggy-orders_error\"", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        await Eventually.HoldsAsync(
            async () =>
            {
                var metrics = await scraper.GetStringAsync(new Uri("/metrics", UriKind.Relative));
                return Sum(metrics, "backbone_dead_letters_captured_total") >= 7 && Sum(metrics, "backbone_dead_letters_waiting") >= 7;
            },
            TimeSpan.FromSeconds(30),
            () => "The dead-letter metrics do not show the seven captured messages.");

        using var reader = Client(app, "operator", DeadLetterApi.ReadScope);
        var groups = await reader.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/dead-letters/groups", UriKind.Relative));
        Assert.Equal([5, 2], groups.EnumerateArray().Select(x => x.GetProperty("count").GetInt32()));
        Assert.Equal("System.InvalidOperationException", groups[0].GetProperty("exceptionType").GetString());
        Assert.Equal("System.FormatException", groups[1].GetProperty("exceptionType").GetString());

        var detail = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/{messageIds[0]}", UriKind.Relative));
        Assert.Contains("BuggyOrderConsumer", detail.GetProperty("stackTrace").GetString(), StringComparison.Ordinal);
        var body = await reader.GetFromJsonAsync<JsonElement>(new Uri($"/api/v1/dead-letters/{messageIds[0]}/body", UriKind.Relative));
        Assert.Contains(failing[0].OrderId.ToString(), body.GetProperty("body").GetString(), StringComparison.Ordinal);
        var audit = await reader.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/dead-letters/audit", UriKind.Relative));
        Assert.Contains(audit.EnumerateArray(), x => x.GetProperty("actor").GetString() == "operator"
            && x.GetProperty("action").GetString() == "read-body" && x.GetProperty("messageId").GetGuid() == messageIds[0]);
    }

    [Fact]
    public async Task The_service_is_ready_only_while_it_reaches_the_broker_it_captures_from()
    {
        await using var capturing = StartDeadLetters(infrastructure);
        await using var cutOff = StartDeadLetters(infrastructure).WithWebHostBuilder(builder => builder.UseSetting("Backbone:RabbitMq:Port", "1"));
        using var live = capturing.CreateClient();
        using var isolated = cutOff.CreateClient();

        await Eventually.HoldsAsync(
            async () => (await live.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30),
            () => "The dead-letter service never became ready.");
        using var notReady = await isolated.GetAsync(new Uri("/health/ready", UriKind.Relative));
        using var stillLive = await isolated.GetAsync(new Uri("/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Contains("broker", await notReady.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, stillLive.StatusCode);
    }

    [Fact]
    public async Task Calls_without_a_token_or_without_the_read_scope_are_refused()
    {
        await using var app = StartDeadLetters(infrastructure);
        using var anonymous = app.CreateClient();
        using var underPrivileged = Client(app, "intruder", "dead-letters:replay");

        using var refused = await anonymous.GetAsync(new Uri("/api/v1/dead-letters", UriKind.Relative));
        using var forbidden = await underPrivileged.GetAsync(new Uri("/api/v1/dead-letters", UriKind.Relative));

        using var editor = Client(app, "editor", "dead-letters:edit");
        using var disabled = await editor.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{Guid.NewGuid()}/edit-and-replay", UriKind.Relative), new { message = new { }, reason = "try" });

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        // Edit-and-replay is off unless configured.
        Assert.Equal(HttpStatusCode.Forbidden, disabled.StatusCode);
        Assert.Contains("edit-and-replay-disabled", await disabled.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Both refusals are on record, with who (as far as known) and what was tried.
        var store = infrastructure.Database("DeadLetters");
        Assert.Equal(1, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-401' AND actor = 'anonymous' AND detail = 'GET /api/v1/dead-letters'"));
        Assert.Equal(1, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-403' AND actor = 'intruder' AND detail = 'GET /api/v1/dead-letters'"));
    }

    [Fact]
    public async Task Archived_dead_letters_past_their_retention_are_deleted_and_the_deletion_audited()
    {
        await using var app = StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var store = infrastructure.Database("DeadLetters");
        var (expired, recent, stillDead) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        foreach (var (id, status, age) in new[] { (expired, "archived", 40), (recent, "archived", 1), (stillDead, "dead", 40) })
        {
            await store.ScalarAsync<int>(
                """
                INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, fingerprint, body, headers, first_failed_at, last_failed_at, failure_count, status)
                VALUES (@id, 'q_error', 'q', 'fault', 'f', '\x7b7d', '{}', now() - make_interval(days => @age), now() - make_interval(days => @age), 1, @status)
                """,
                ("id", id), ("age", age), ("status", status));
        }

        // The hourly background run may take it first (it also runs at start); either way exactly that one goes.
        await app.Services.GetRequiredService<EventBackbone.Messaging.Retention.TableRetention>().RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", expired)));
        Assert.Equal(2, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id IN (@a, @b)", ("a", recent), ("b", stillDead)));
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'expire' AND message_id = @id", ("id", expired)));
    }

    internal static async Task<IBusControl> StartBuggyServiceAsync(DeadLetterInfrastructure infrastructure, OrderService? service = null)
    {
        service ??= new OrderService();
        var settings = infrastructure.Settings;
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(settings.RabbitHost, (ushort)settings.RabbitPort, infrastructure.VirtualHost.Name, host =>
            {
                host.Username(settings.RabbitUsername);
                host.Password(settings.RabbitPassword);
            });
            // No retries: every failure goes straight to buggy-orders_error, as after a real retry budget.
            cfg.ReceiveEndpoint("buggy-orders", endpoint => endpoint.Consumer(() => new BuggyOrderConsumer(service)));
            cfg.ReceiveEndpoint("order-audit", endpoint => endpoint.Consumer(() => new OrderAuditConsumer(service)));
        });
        await bus.StartAsync();
        return bus;
    }

    internal static WebApplicationFactory<Program> StartDeadLetters(DeadLetterInfrastructure infrastructure, bool editAndReplay = false) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in infrastructure.HostSettings())
            {
                builder.UseSetting(key, value);
            }

            builder.UseSetting("Backbone:RabbitMq:ManagementUrl", infrastructure.Settings.RabbitManagementUrl.ToString());
            builder.UseSetting("Backbone:DeadLetters:DiscoveryInterval", "00:00:00.500");
            builder.UseSetting("Backbone:Auth:SigningKeys:0", SigningKey);
            builder.UseSetting("Backbone:DeadLetters:EditAndReplay", editAndReplay ? "true" : "false");
        });

    internal static HttpClient Client(WebApplicationFactory<Program> app, string subject, params string[] scopes)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(subject, scopes));
        return client;
    }

    /// <summary>A token the service under test accepts, for <paramref name="subject"/> with exactly <paramref name="scopes"/>.</summary>
    internal static string Token(string subject, params string[] scopes)
    {
        var auth = new BackboneAuthSettings("eventbackbone", "eventbackbone-api", null, [new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(SigningKey))]);
        return DevTokens.Mint(auth, subject, scopes, TimeSpan.FromMinutes(10), DateTime.UtcNow);
    }
}
