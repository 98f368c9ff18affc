using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace EventBackbone.Webhooks.Bench;

/// <summary>
/// The baseline: the least an ASP.NET Core endpoint can do to accept a webhook durably — read the body, one
/// single-row INSERT (its own autocommit transaction, so one commit per request), answer 202. No verification, no
/// outbox, no logging per request.
/// </summary>
internal static class BareInsertServer
{
    public const string Command = "serve-baseline";
    public const string Table = "bare_webhooks";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var connectionString = builder.Configuration.GetConnectionString("Baseline")
            ?? throw new InvalidOperationException("ConnectionStrings:Baseline is required.");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var create = dataSource.CreateCommand(
            $"CREATE TABLE IF NOT EXISTS {Table} (event_id uuid PRIMARY KEY, body bytea NOT NULL, received_at timestamptz NOT NULL)"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var app = builder.Build();
        app.MapGet("/health/ready", () => Results.Ok());
        app.MapPost("/ingest", async (HttpRequest request, CancellationToken cancellationToken) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, cancellationToken);
            var eventId = Guid.CreateVersion7();
            await using var insert = dataSource.CreateCommand($"INSERT INTO {Table} (event_id, body, received_at) VALUES ($1, $2, now())");
            insert.Parameters.Add(new NpgsqlParameter { Value = eventId });
            insert.Parameters.Add(new NpgsqlParameter { Value = body.ToArray() });
            await insert.ExecuteNonQueryAsync(cancellationToken);
            return Results.Accepted($"/events/{eventId}", new { eventId });
        });
        await app.RunAsync();
        return 0;
    }
}
