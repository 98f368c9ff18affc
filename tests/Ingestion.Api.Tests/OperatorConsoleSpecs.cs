using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>
/// What the operators' console asks the front door itself: which actions this sign-in may take, and how the ingestion
/// outbox is doing (in this tier's in-memory mode there is no durable outbox, and the answer says so).
/// </summary>
public sealed class OperatorConsoleSpecs(IngestionApiFactory factory) : IClassFixture<IngestionApiFactory>
{
    private static readonly Uri Permissions = new("/api/v1/me/permissions", UriKind.Relative);
    private static readonly Uri IngestionOutbox = new("/api/v1/outbox/ingestion", UriKind.Relative);

    [Fact]
    public async Task A_read_only_token_may_read_and_nothing_else()
    {
        using var client = factory.CreateCommandClient("viewer", "dead-letters:read");

        var permissions = await client.GetFromJsonAsync<JsonElement>(Permissions);

        Assert.Equal("viewer", permissions.GetProperty("caller").GetString());
        Assert.Equal(["dead-letters:read"], permissions.GetProperty("scopes").EnumerateArray().Select(x => x.GetString()));
        var can = permissions.GetProperty("can");
        Assert.True(can.GetProperty("read").GetBoolean());
        foreach (var action in new[] { "replay", "edit", "delete", "reports", "signups" })
        {
            Assert.False(can.GetProperty(action).GetBoolean(), $"a read-only token may {action}: {permissions}");
        }
    }

    [Fact]
    public async Task A_token_with_every_operator_scope_may_do_everything_and_its_other_scopes_are_listed_too()
    {
        string[] scopes = ["dead-letters:read", "dead-letters:replay", "dead-letters:edit", "dead-letters:delete", "reports:read", "signups:read", "commands:signup"];
        using var client = factory.CreateCommandClient("lead", scopes);

        var permissions = await client.GetFromJsonAsync<JsonElement>(Permissions);

        Assert.Equal(scopes, permissions.GetProperty("scopes").EnumerateArray().Select(x => x.GetString()));
        foreach (var action in new[] { "read", "replay", "edit", "delete", "reports", "signups" })
        {
            Assert.True(permissions.GetProperty("can").GetProperty(action).GetBoolean(), $"an all-scopes token may not {action}: {permissions}");
        }
    }

    [Fact]
    public async Task Without_a_token_permissions_and_the_outbox_are_a_401_problem()
    {
        using var client = factory.CreateClient();

        foreach (var path in new[] { Permissions, IngestionOutbox })
        {
            using var response = await client.GetAsync(path);

            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
        }
    }

    [Fact]
    public async Task The_outbox_needs_the_read_scope()
    {
        using var client = factory.CreateCommandClient("analyst", "reports:read");

        using var response = await client.GetAsync(IngestionOutbox);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Without_a_durable_outbox_the_status_says_so_and_that_nothing_is_pending()
    {
        using var client = factory.CreateCommandClient("viewer", "dead-letters:read");

        var status = await client.GetFromJsonAsync<JsonElement>(IngestionOutbox);

        Assert.Equal("ingestion", status.GetProperty("service").GetString());
        Assert.False(status.GetProperty("durable").GetBoolean());
        Assert.Equal(0, status.GetProperty("pending").GetInt32());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("oldestPendingAgeSeconds").ValueKind);
        Assert.Empty(status.GetProperty("parked").EnumerateArray());
    }

    [Fact]
    public async Task The_openapi_document_describes_permissions_and_the_outbox_status()
    {
        using var client = factory.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        var paths = document.RootElement.GetProperty("paths");
        var permissions = paths.GetProperty("/api/v1/me/permissions").GetProperty("get");
        Assert.Equal("GetMyPermissions", permissions.GetProperty("operationId").GetString());
        var outbox = paths.GetProperty("/api/v1/outbox/ingestion").GetProperty("get");
        Assert.Equal("GetIngestionOutboxStatus", outbox.GetProperty("operationId").GetString());
        foreach (var status in new[] { "200", "401" })
        {
            Assert.True(permissions.GetProperty("responses").TryGetProperty(status, out _), $"permissions document no {status}.");
        }

        foreach (var status in new[] { "200", "401", "403" })
        {
            Assert.True(outbox.GetProperty("responses").TryGetProperty(status, out _), $"the outbox status documents no {status}.");
        }
    }
}
