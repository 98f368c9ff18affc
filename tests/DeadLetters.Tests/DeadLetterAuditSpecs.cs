using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EventBackbone.DeadLetters.Replay;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.DeadLetters.Tests;

/// <summary>The audit as an investigator needs it: complete, atomic with what it records, and searchable past a flood.</summary>
[Trait("Tier", "Integration")]
public sealed class DeadLetterAuditSpecs(DeadLetterInfrastructure infrastructure) : IClassFixture<DeadLetterInfrastructure>
{
    private const string FailingReason = "the audit cannot be written";

    [Fact]
    public async Task Archive_restore_and_delete_are_undone_when_their_audit_cannot_be_written()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var starter = app.CreateClient();
        var store = infrastructure.Database("DeadLetters");
        var (dead, archived, doomed) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        foreach (var (id, status) in new[] { (dead, "dead"), (archived, "archived"), (doomed, "dead") })
        {
            await InsertLetterAsync(store, id, status);
        }

        // The audit insert fails (as a dropped connection between two saves would lose it) for this reason only.
        await store.ScalarAsync<object>(
            $"""
            CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.detail = '{FailingReason}' THEN RAISE EXCEPTION 'audit unavailable'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_audit BEFORE INSERT ON dead_letter_audit FOR EACH ROW EXECUTE FUNCTION refuse_audit();
            """);
        using var operatorClient = DeadLetterCaptureSpecs.Client(app, "operator", DeadLetterActions.EditScope, DeadLetterActions.DeleteScope);

        using var archive = await operatorClient.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{dead}/archive", UriKind.Relative), new { reason = FailingReason });
        using var restore = await operatorClient.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{archived}/restore", UriKind.Relative), new { reason = FailingReason });
        using var delete = await operatorClient.DeleteAsync(new Uri($"/api/v1/dead-letters/{doomed}?reason={Uri.EscapeDataString(FailingReason)}", UriKind.Relative));

        Assert.False(archive.IsSuccessStatusCode, $"archive: {archive.StatusCode}");
        Assert.False(restore.IsSuccessStatusCode, $"restore: {restore.StatusCode}");
        Assert.False(delete.IsSuccessStatusCode, $"delete: {delete.StatusCode}");
        // No change without its audit row: each action was rolled back with the audit that failed.
        Assert.Equal("dead", await store.ScalarAsync<string>("SELECT status FROM dead_letters WHERE message_id = @id", ("id", dead)));
        Assert.Equal("archived", await store.ScalarAsync<string>("SELECT status FROM dead_letters WHERE message_id = @id", ("id", archived)));
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = @id", ("id", doomed)));

        // With an audit that can be written the same actions go through, each with its row.
        using var archived2 = await operatorClient.PostAsJsonAsync(new Uri($"/api/v1/dead-letters/{dead}/archive", UriKind.Relative), new { reason = "noise" });
        using var deleted2 = await operatorClient.DeleteAsync(new Uri($"/api/v1/dead-letters/{doomed}?reason=cancelled", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, archived2.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, deleted2.StatusCode);
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'archive' AND message_id = @id", ("id", dead)));
        Assert.Equal(1, await store.ScalarAsync<long>("SELECT count(*) FROM dead_letter_audit WHERE action = 'delete' AND message_id = @id", ("id", doomed)));
    }

    [Fact]
    public async Task A_token_that_names_no_caller_is_refused_with_a_403_problem_and_the_refusal_is_audited()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        // Valid and scoped, but with no sub, client_id or azp: its deletes and replays would be audited as nobody.
        var descriptor = new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = "eventbackbone",
            Audience = "eventbackbone-api",
            Claims = new Dictionary<string, object> { ["scope"] = $"{DeadLetterApi.ReadScope} {DeadLetterActions.DeleteScope}" },
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(DeadLetterCaptureSpecs.SigningKey)),
                Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256),
        };
        using var nobody = app.CreateClient();
        nobody.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Bearer", new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(descriptor));
        var id = Guid.NewGuid();

        using var delete = await nobody.DeleteAsync(new Uri($"/api/v1/dead-letters/{id}?reason=cleanup", UriKind.Relative));
        using var read = await nobody.GetAsync(new Uri("/api/v1/dead-letters", UriKind.Relative));

        foreach (var response in new[] { delete, read })
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.EndsWith("/unidentified-caller", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        }

        var store = infrastructure.Database("DeadLetters");
        Assert.Equal(1, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-403' AND actor = 'unidentified' AND detail = @detail",
            ("detail", $"DELETE /api/v1/dead-letters/{id}")));
    }

    [Fact]
    public async Task Refused_calls_are_audited_whatever_the_case_of_the_path()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var anonymous = app.CreateClient();
        using var reader = DeadLetterCaptureSpecs.Client(app, "shouting-reader", DeadLetterApi.ReadScope);
        var id = Guid.NewGuid();

        using var noToken = await anonymous.GetAsync(new Uri("/API/V1/DEAD-LETTERS", UriKind.Relative));
        using var noScope = await reader.DeleteAsync(new Uri($"/Api/V1/Dead-Letters/{id}?reason=x", UriKind.Relative));
        // A path under the prefix that names nothing is refused (and audited) too: probing is what the audit is for.
        using var probe = await anonymous.GetAsync(new Uri("/api/v1/dead-letters/no/such/thing", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, noScope.StatusCode);
        var store = infrastructure.Database("DeadLetters");
        Assert.Equal(1, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-401' AND actor = 'anonymous' AND detail = 'GET /API/V1/DEAD-LETTERS'"));
        Assert.Equal(1, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-403' AND actor = 'shouting-reader' AND detail = @detail",
            ("detail", $"DELETE /Api/V1/Dead-Letters/{id}")));
        Assert.Equal(HttpStatusCode.Unauthorized, probe.StatusCode);
        Assert.Equal(1, await store.ScalarAsync<long>(
            "SELECT count(*) FROM dead_letter_audit WHERE action = 'refused-401' AND detail = 'GET /api/v1/dead-letters/no/such/thing'"));
    }

    [Fact]
    public async Task The_audit_is_filtered_and_paged_by_cursor_so_a_flood_of_refusals_cannot_hide_a_deletion()
    {
        await using var app = DeadLetterCaptureSpecs.StartDeadLetters(infrastructure);
        using var reader = DeadLetterCaptureSpecs.Client(app, "investigator", DeadLetterApi.ReadScope);
        var store = infrastructure.Database("DeadLetters");
        var deleted = Guid.NewGuid();
        // Inside the audit's retention (400 days): every DeadLetters host deletes older entries once at start, and a
        // host of another spec starting meanwhile took a 2020 entry away ("The collection was empty" in CI). Two days
        // back and on a whole second, so no entry another spec writes now falls in the time filter below.
        var now = DateTimeOffset.UtcNow;
        var at = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero).AddDays(-2);
        await store.ScalarAsync<object>(
            "INSERT INTO dead_letter_audit (at, actor, action, message_id, detail) VALUES (@at, 'insider', 'delete', @id, 'cleanup')",
            ("at", at), ("id", deleted));
        // 1200 refusals after it, ten to each instant: a keyset on the time alone would skip or repeat rows.
        await store.ScalarAsync<object>(
            """
            INSERT INTO dead_letter_audit (at, actor, action, detail)
            SELECT @at + make_interval(secs => 60 + n / 10), 'prober', 'refused-403', 'GET /api/v1/dead-letters'
            FROM generate_series(1, 1200) AS n
            """,
            ("at", at));

        // Filters find the deletion however many refusals came after it.
        var byActor = await GetArrayAsync(reader, "/api/v1/dead-letters/audit?actor=insider&action=delete");
        var byMessage = await GetArrayAsync(reader, $"/api/v1/dead-letters/audit?messageId={deleted}");
        var byTime = await GetArrayAsync(reader, $"/api/v1/dead-letters/audit?from={Q(at.AddSeconds(-1))}&to={Q(at.AddSeconds(1))}");
        foreach (var found in new[] { byActor, byMessage, byTime })
        {
            var entry = Assert.Single(found.Items);
            Assert.Equal(deleted, entry.GetProperty("messageId").GetGuid());
            Assert.Null(found.Next);
        }

        // Every refusal exactly once, newest first, a bounded page at a time, following the next link.
        var seen = new List<(DateTimeOffset At, long Id)>();
        var next = "/api/v1/dead-letters/audit?action=refused-403&actor=prober&limit=500";
        var pages = 0;
        while (next is not null && pages++ < 10)
        {
            var page = await GetArrayAsync(reader, next);
            Assert.True(page.Items.Count <= 500, $"a page of {page.Items.Count}");
            seen.AddRange(page.Items.Select(x => (x.GetProperty("at").GetDateTimeOffset(), x.GetProperty("id").GetInt64())));
            next = page.Next;
        }

        Assert.Equal(3, pages);
        Assert.Equal(1200, seen.Select(x => x.Id).Distinct().Count());
        Assert.Equal(seen.OrderByDescending(x => x.At).ThenByDescending(x => x.Id), seen);

        // The page size is bounded whatever is asked; a cursor that is not one of ours is a 400, not a 500.
        Assert.Equal(1000, (await GetArrayAsync(reader, "/api/v1/dead-letters/audit?limit=1000000")).Items.Count);
        using var forged = await reader.GetAsync(new Uri("/api/v1/dead-letters/audit?cursor=not-a-cursor", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal("application/problem+json", forged.Content.Headers.ContentType?.MediaType);
    }

    private static string Q(DateTimeOffset at) => Uri.EscapeDataString(at.ToString("O", System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<(List<JsonElement> Items, string? Next)> GetArrayAsync(HttpClient client, string uri)
    {
        using var response = await client.GetAsync(new Uri(uri, UriKind.Relative));
        Assert.True(response.IsSuccessStatusCode, $"{uri}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var items = (await response.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
        // RFC 8288: Link: <…>; rel="next"
        var next = response.Headers.TryGetValues("Link", out var links)
            ? links.Select(link => link.Split(';')).Where(parts => parts.Skip(1).Any(p => p.Trim() == "rel=\"next\"")).Select(parts => parts[0].Trim().Trim('<', '>')).FirstOrDefault()
            : null;
        return (items, next);
    }

    private static Task<int> InsertLetterAsync(ScratchDatabase store, Guid id, string status) =>
        store.ScalarAsync<int>(
            """
            INSERT INTO dead_letters (message_id, source_queue, target_queue, reason, fingerprint, body, headers, first_failed_at, last_failed_at, failure_count, status)
            VALUES (@id, 'q_error', 'q', 'fault', 'f', '\x7b7d', '{}', now(), now(), 1, @status)
            """,
            ("id", id), ("status", status));
}
