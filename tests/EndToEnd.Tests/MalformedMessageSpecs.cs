using System.Net.Http.Json;
using System.Text;
using EventBackbone.TestInfrastructure;
using RabbitMQ.Client;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>The Workers and DeadLetters hosts as processes, on a vhost and databases of their own.</summary>
public sealed class MalformedMessageFixture() : BackboneInfrastructure("Workers", "DeadLetters")
{
    public static readonly string SigningKey = TestSigningKey.Generate();


    public HostProcess Workers { get; private set; } = null!;

    public HostProcess DeadLetters { get; private set; } = null!;

    public string AllLogs() => string.Join('\n', Workers.Logs, DeadLetters.Logs);

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var settings = new Dictionary<string, string>(HostSettings())
        {
            ["Backbone:Auth:SigningKeys:0"] = SigningKey,
            ["Backbone:RabbitMq:ManagementUrl"] = Settings.RabbitManagementUrl.ToString(),
            ["Backbone:DeadLetters:DiscoveryInterval"] = "00:00:00.500",
            ["Backbone:DeadLetters:EditAndReplay"] = "true",
        };
        Workers = HostProcess.Start("Workers", settings);
        DeadLetters = HostProcess.Start("DeadLetters", settings);
        // Workers ready = their queues are declared and consumed.
        await Task.WhenAll(Workers.WaitUntilReadyAsync(HostProcess.StartTimeout), DeadLetters.WaitUntilReadyAsync(HostProcess.StartTimeout));
    }

    public Task<string> TokenAsync(string subject, string scopes) => MintedTokens.MintAsync(SigningKey, subject, scopes);

    public async Task<IConnection> BrokerAsync() =>
        await new ConnectionFactory
        {
            HostName = Settings.RabbitHost,
            Port = Settings.RabbitPort,
            VirtualHost = VirtualHost.Name,
            UserName = Settings.RabbitUsername,
            Password = Settings.RabbitPassword,
        }.CreateConnectionAsync();

    public override async Task DisposeAsync()
    {
        foreach (var host in new[] { Workers, DeadLetters })
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }

        await base.DisposeAsync();
    }
}

/// <summary>
/// Messages no serializer or consumer can handle, put straight into a consumer's queue (past MassTransit's publish
/// side): each ends in the dead-letter store once, with a reason that says what was wrong, and leaves every queue
/// empty — never an endless redelivery loop.
/// </summary>
public sealed class MalformedMessageSpecs(MalformedMessageFixture fixture) : IClassFixture<MalformedMessageFixture>
{
    private const string Queue = "webhook-received";
    private const string MassTransitJson = "application/vnd.masstransit+json";

    [Fact]
    public async Task Malformed_messages_end_in_the_dead_letter_store_once_with_the_reason_and_the_queues_empty()
    {
        await using var broker = await fixture.BrokerAsync();
        await using var channel = await broker.CreateChannelAsync();
        var marker = Guid.NewGuid().ToString("N");
        (string Name, string? ContentType, string? MessageId, byte[] Body)[] cases =
        [
            ("invalid JSON", MassTransitJson, Guid.NewGuid().ToString(), Encoding.UTF8.GetBytes($"{{\"messageType\": [\"urn:message:{marker}-invalid-json\"")),
            ("an unknown message type", MassTransitJson, Guid.NewGuid().ToString(), Encoding.UTF8.GetBytes(Envelope(Guid.NewGuid(), $"urn:message:EventBackbone.Contracts.Nowhere:Unknown{marker}", "{}"))),
            ("no content type, no message id and no envelope", null, null, Encoding.UTF8.GetBytes(
                $$"""{"eventId":"{{Guid.NewGuid()}}","source":"{{marker}}","receivedAt":"2026-01-01T00:00:00Z","contentType":"application/json","payload":"{}"}""")),
            ("a binary body", "application/octet-stream", Guid.NewGuid().ToString(), [0x00, 0xFF, 0x13, 0x37, .. Encoding.UTF8.GetBytes(marker), 0xC0, 0xAF]),
        ];
        foreach (var (_, contentType, messageId, body) in cases)
        {
            var properties = new BasicProperties { Persistent = true, ContentType = contentType, MessageId = messageId };
            await channel.BasicPublishAsync("", Queue, mandatory: true, properties, body);
        }

        // A valid envelope without any message id, in the header or the envelope: the inbox cannot dedupe it, fails it,
        // and the scheduled redelivery sends a copy that MassTransit gives an id — consumed then, once, not lost.
        var withoutId = $"{marker}-without-id";
        await channel.BasicPublishAsync("", Queue, mandatory: true, new BasicProperties { Persistent = true },
            Encoding.UTF8.GetBytes(Envelope(null, "urn:message:EventBackbone.Contracts.Webhooks:WebhookReceived",
                $$"""{"eventId":"{{Guid.NewGuid()}}","source":"{{withoutId}}","receivedAt":"2026-01-01T00:00:00Z","contentType":"application/json","payload":"{}"}""")));

        var store = fixture.Database("DeadLetters");
        Task<long> CapturedAsync(byte[] body) =>
            store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE body = @body", ("body", body));
        await Eventually.HoldsAsync(
            async () => (await Task.WhenAll(cases.Select(x => CapturedAsync(x.Body)))).All(count => count == 1),
            TimeSpan.FromSeconds(60),
            () => $"Not every malformed message reached the dead-letter store.\n{fixture.AllLogs()}");

        async Task<string> Field(int index, string column) =>
            await store.ScalarAsync<string>($"SELECT coalesce({column}, '') FROM dead_letters WHERE body = @body", ("body", cases[index].Body)) ?? "";
        // Each with the reason it could not be consumed.
        Assert.Equal("fault", await Field(0, "reason"));
        // MassTransit records the innermost exception: the JSON reader's, which says where the JSON broke.
        Assert.Equal("System.Text.Json.JsonReaderException", await Field(0, "exception_type"));
        Assert.Contains("JSON", await Field(0, "exception_message"), StringComparison.Ordinal);
        Assert.Equal($"{Queue}_error", await Field(0, "source_queue"));

        Assert.Equal("skipped", await Field(1, "reason"));
        Assert.Equal($"{Queue}_skipped", await Field(1, "source_queue"));

        // Read as MassTransit's envelope (the default without a content type), it is not one: MassTransit names the
        // missing envelope.
        Assert.Equal("fault", await Field(2, "reason"));
        Assert.Equal($"{Queue}_error", await Field(2, "source_queue"));
        Assert.Equal("System.ArgumentNullException", await Field(2, "exception_type"));
        Assert.Contains("'envelope'", await Field(2, "exception_message"), StringComparison.Ordinal);

        // Without a deserializer for its content type MassTransit tries its JSON envelope, which fails at the first byte.
        Assert.Equal("fault", await Field(3, "reason"));
        Assert.Equal("System.Text.Json.JsonReaderException", await Field(3, "exception_type"));
        Assert.Contains("'0x00' is an invalid start of a value", await Field(3, "exception_message"), StringComparison.Ordinal);

        await Eventually.HoldsAsync(
            async () => await fixture.Database("Workers").ScalarAsync<long>("SELECT count(*) FROM inbound_webhooks WHERE source = @source", ("source", withoutId)) == 1,
            TimeSpan.FromSeconds(60),
            () => $"The envelope without a message id was not consumed.\n{fixture.AllLogs()}");

        // Every one replays to the queue it failed on.
        foreach (var index in Enumerable.Range(0, cases.Length))
        {
            Assert.Equal(Queue, await Field(index, "target_queue"));
        }

        // Delivered a bounded number of times: the broker never redelivered, every queue is empty, and nothing comes
        // back (a loop would show as a queue filling again or a second failure on record).
        await Eventually.HoldsAsync(
            async () => await RabbitMqQueues.DepthAsync(broker, Queue) == 0 && await RabbitMqQueues.DepthAsync(broker, $"{Queue}_error") <= 0 && await RabbitMqQueues.DepthAsync(broker, $"{Queue}_skipped") <= 0,
            TimeSpan.FromSeconds(30),
            () => $"A queue still holds a malformed message.\n{fixture.AllLogs()}");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(0, await RabbitMqQueues.DepthAsync(broker, Queue));
        Assert.Equal(1, await fixture.Database("Workers").ScalarAsync<long>("SELECT count(*) FROM inbound_webhooks WHERE source = @source", ("source", withoutId)));
        Assert.Equal(0, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letters WHERE failure_count <> 1 AND body = ANY(@bodies)", ("bodies", cases.Select(x => x.Body).ToArray())));
        Assert.Equal(cases.Length, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_failures f JOIN dead_letters d USING (message_id) WHERE d.body = ANY(@bodies)", ("bodies", cases.Select(x => x.Body).ToArray())));
    }

    /// <summary>
    /// The operator's whole point: a real contract whose body does not deserialize (an id that is not a GUID) is
    /// captured with the message type its envelope names — MassTransit's fault header leaves it empty — and the edited,
    /// corrected message is validated against that contract by the real DeadLetters process and consumed.
    /// </summary>
    [Fact]
    public async Task A_contract_whose_body_does_not_deserialize_is_captured_with_its_type_and_an_edited_copy_is_consumed()
    {
        await using var broker = await fixture.BrokerAsync();
        await using var channel = await broker.CreateChannelAsync();
        var messageId = Guid.NewGuid();
        var source = $"malformed-{Guid.NewGuid():N}";
        const string contract = "urn:message:EventBackbone.Contracts.Webhooks:WebhookReceived";
        await channel.BasicPublishAsync("", Queue, mandatory: true, new BasicProperties { Persistent = true, ContentType = MassTransitJson, MessageId = messageId.ToString() },
            Encoding.UTF8.GetBytes(Envelope(messageId, contract,
                $$"""{"eventId":"not-a-guid","source":"{{source}}","receivedAt":"2026-01-01T00:00:00Z","contentType":"application/json","payload":"{}"}""")));

        var store = fixture.Database("DeadLetters");
        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", messageId)) == 1,
            TimeSpan.FromSeconds(60),
            () => $"The malformed contract was not captured.\n{fixture.AllLogs()}");
        Assert.Equal(contract, await store.ScalarAsync<string>("SELECT coalesce(message_type, '') FROM dead_letters WHERE message_id = @id", ("id", messageId)));

        using var editor = new HttpClient { BaseAddress = fixture.DeadLetters.BaseAddress };
        editor.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Bearer", await fixture.TokenAsync("operator", "dead-letters:read dead-letters:edit"));
        var uri = new Uri($"/api/v1/dead-letters/{messageId}/edit-and-replay", UriKind.Relative);
        var corrected = new { eventId = Guid.NewGuid(), source, eventType = (string?)null, receivedAt = "2026-01-01T00:00:00Z", contentType = "application/json", payload = "{}" };
        var notAGuid = new { eventId = "still-not-a-guid", source, eventType = (string?)null, receivedAt = "2026-01-01T00:00:00Z", contentType = "application/json", payload = "{}" };
        using var stillWrong = await editor.PostAsJsonAsync(uri, new { message = notAGuid, reason = "typo" });
        using var fixedUp = await editor.PostAsJsonAsync(uri, new { message = corrected, reason = "event id was not a GUID" });

        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, stillWrong.StatusCode);
        // Named next to the field the contract refused, not "not a known contract".
        var refusal = await stillWrong.Content.ReadAsStringAsync();
        Assert.True(refusal.Contains("eventId", StringComparison.Ordinal) && refusal.Contains("WebhookReceived", StringComparison.Ordinal), refusal);
        Assert.True(fixedUp.IsSuccessStatusCode, await fixedUp.Content.ReadAsStringAsync());
        await Eventually.HoldsAsync(
            async () => await fixture.Database("Workers").ScalarAsync<long>("SELECT count(*) FROM inbound_webhooks WHERE source = @source", ("source", source)) == 1,
            TimeSpan.FromSeconds(60),
            () => $"The edited message was not consumed.\n{fixture.AllLogs()}");
    }

    private static string Envelope(Guid? messageId, string messageType, string message) =>
        "{" + (messageId is { } id ? $"\"messageId\":\"{id}\"," : "") + $"\"messageType\":[\"{messageType}\"],\"message\":{message},\"headers\":{{}}}}";
}
