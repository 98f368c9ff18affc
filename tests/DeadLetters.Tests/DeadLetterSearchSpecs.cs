using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>Text filters find what the operator typed, character for character: a filter replay sends exactly that.</summary>
[Trait("Tier", "Integration")]
public sealed class DeadLetterSearchSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    [Theory]
    [InlineData("disk 100% full", "disk 1000 full", "100%")]
    [InlineData("quota_exceeded", "quota-exceeded", "quota_e")]
    [InlineData(@"path C:\temp is locked", "path C:temp is locked", @"C:\temp")]
    public async Task Wildcards_and_the_escape_character_in_the_text_filter_match_only_themselves(string literal, string lookalike, string typed)
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var store = infrastructure.Database("DeadLetters");
        var queue = $"search-{Guid.NewGuid():N}";
        var (wanted, other) = (Guid.NewGuid(), Guid.NewGuid());
        foreach (var (id, message) in new[] { (wanted, literal), (other, lookalike) })
        {
            await store.ScalarAsync<int>(
                """
                INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, message_type, exception_message, fingerprint, body, headers,
                    first_failed_at, last_failed_at, failure_count, status)
                VALUES (@id, @queue || '_error', @queue, 'fault', @type, @message, 'f', '\x7b7d', '{}', now(), now(), 1, 'dead')
                """,
                ("id", id), ("queue", queue), ("type", "urn:message:" + message), ("message", message));
        }

        using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterApi.ReadScope, DeadLetterActions.ReplayScope);
        var byText = await operatorClient.GetFromJsonAsync<JsonElement>(
            new Uri($"/api/v1/dead-letters?queue={queue}_error&q={Uri.EscapeDataString(typed)}", UriKind.Relative));
        var byType = await operatorClient.GetFromJsonAsync<JsonElement>(
            new Uri($"/api/v1/dead-letters?queue={queue}_error&messageType={Uri.EscapeDataString(typed)}", UriKind.Relative));
        var job = await DeadLetterReplaySpecs.CompletedJobAsync(operatorClient, await operatorClient.PostAsJsonAsync(
            new Uri("/api/v1/dead-letters/replay", UriKind.Relative), new { filter = new { queue = $"{queue}_error", q = typed }, reason = "one" }));

        Assert.Equal([wanted], byText.GetProperty("items").EnumerateArray().Select(x => x.GetProperty("messageId").GetGuid()));
        Assert.Equal([wanted], byType.GetProperty("items").EnumerateArray().Select(x => x.GetProperty("messageId").GetGuid()));
        // The replay itself fails (no such queue here); what matters is which messages the job took.
        Assert.Equal(1, job.GetProperty("total").GetInt32());
    }
}
