using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.TestInfrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventBackbone.Integration.Tests;

/// <summary>
/// <c>GET /api/v1/outbox/ingestion</c> on the real PostgreSQL outbox: what has not left the service yet, and the groups
/// parked after failing too often, which nothing retries by itself and the console must show.
/// </summary>
public sealed class OutboxStatusSpecs(BackboneInfrastructure infrastructure) : IClassFixture<BackboneInfrastructure>
{
    private const int ParkedGroups = 105;

    [Fact]
    public async Task The_status_counts_pending_and_scheduled_messages_and_lists_the_newest_parked_groups_with_their_last_error()
    {
        var signingKey = TestSigningKey.Generate();
        await using var api = IngestionApiHost.Start(infrastructure.HostSettings()).WithWebHostBuilder(builder =>
            builder.UseSetting("Backbone:Auth:SigningKeys:0", signingKey));
        using var client = api.CreateClient();
        var auth = api.Services.GetRequiredService<BackboneAuthSettings>();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Bearer", DevTokens.Mint(auth, "operator", ["dead-letters:read"], TimeSpan.FromMinutes(10), DateTime.UtcNow));
        var newestParked = Guid.NewGuid();
        // Two due groups (three messages), leased for an hour by another instance, so this host's delivery leaves them
        // pending while the test reads; one group scheduled for tomorrow; parked groups, one a minute apart (a parked
        // group's message is not pending).
        var (older, newer, tomorrow) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await ExecuteAsync($"""
            INSERT INTO outbox_state (outbox_id, created, not_before, lock_id, locked_until, attempts) VALUES
                ('{older}', now() - interval '10 minutes', now() - interval '10 minutes', gen_random_uuid(), now() + interval '1 hour', 0),
                ('{newer}', now() - interval '1 minute', now() - interval '1 minute', gen_random_uuid(), now() + interval '1 hour', 0);
            INSERT INTO outbox_state (outbox_id, not_before, attempts) VALUES ('{tomorrow}', now() + interval '1 day', 0);
            INSERT INTO outbox_state (outbox_id, attempts, last_error, parked_at)
            SELECT CASE WHEN n = 0 THEN '{newestParked}'::uuid ELSE gen_random_uuid() END, 10,
                   'RabbitMqConnectionException: broker unreachable #' || n, now() - n * interval '1 minute'
            FROM generate_series(0, {ParkedGroups - 1}) n;
            INSERT INTO outbox_messages (outbox_id, message_id, content_type, message_type, body, sent_time)
            SELECT outbox_id, gen_random_uuid(), 'application/json', 'urn:message:x', '', now()
            FROM unnest(ARRAY['{older}', '{older}', '{newer}', '{tomorrow}', '{newestParked}']::uuid[]) AS outbox_id;
            """);

        var status = await client.GetFromJsonAsync<JsonElement>(new Uri("/api/v1/outbox/ingestion", UriKind.Relative));

        Assert.Equal("ingestion", status.GetProperty("service").GetString());
        Assert.True(status.GetProperty("durable").GetBoolean());
        Assert.Equal(3, status.GetProperty("pending").GetInt32());
        Assert.Equal(1, status.GetProperty("scheduled").GetInt32());
        // Due ten minutes before the request at least; the upper bound only rules out a wrong origin (epoch, created).
        Assert.InRange(status.GetProperty("oldestPendingAgeSeconds").GetDouble(), 600, 3600);
        Assert.Equal(ParkedGroups, status.GetProperty("parkedTotal").GetInt32());
        var parked = status.GetProperty("parked").EnumerateArray().ToList();
        Assert.Equal(100, parked.Count);
        Assert.Equal(newestParked, parked[0].GetProperty("groupId").GetGuid());
        Assert.Equal(10, parked[0].GetProperty("attempts").GetInt32());
        Assert.Equal("RabbitMqConnectionException: broker unreachable #0", parked[0].GetProperty("lastError").GetString());
        var parkedAt = parked.Select(x => x.GetProperty("parkedAt").GetDateTimeOffset()).ToList();
        Assert.Equal(parkedAt.OrderDescending(), parkedAt);
        Assert.Equal("RabbitMqConnectionException: broker unreachable #99", parked[^1].GetProperty("lastError").GetString());
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(infrastructure.Database("Ingestion").ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
