using System.Text.RegularExpressions;
using EventBackbone.Messaging.Persistence;
using EventBackbone.ServiceDefaults.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Messaging.Outbox;

/// <param name="Service">The service whose outbox this is (<c>ingestion</c>, <c>workers</c>, <c>sagas</c>).</param>
/// <param name="Durable">False when the service runs without a database outbox (embedded mode's in-memory store): then
/// nothing is ever pending here, and what the process holds in memory is lost with it.</param>
/// <param name="Pending">Messages due and waiting to be sent (not parked), leased or not.</param>
/// <param name="OldestPendingAgeSeconds">How long the oldest pending group has been due; null when nothing is pending.</param>
/// <param name="Scheduled">Messages not due yet (scheduled timeouts and redeliveries).</param>
/// <param name="ParkedTotal">All parked groups; <paramref name="Parked"/> lists at most <see cref="OutboxStatusEndpoint.ParkedListLimit"/>.</param>
/// <param name="Parked">Parked groups, newest first.</param>
internal sealed record OutboxStatus(
    string Service, bool Durable, int Pending, double? OldestPendingAgeSeconds, int Scheduled, int ParkedTotal, IReadOnlyList<ParkedOutboxGroup> Parked);

/// <param name="GroupId">The group's outbox id: everything one transaction sent, or one scheduled message.</param>
/// <param name="Attempts">Failed deliveries before it was parked.</param>
/// <param name="LastError">The last delivery failure (at most 2000 characters).</param>
internal sealed record ParkedOutboxGroup(Guid GroupId, int Attempts, DateTimeOffset ParkedAt, string? LastError);

/// <summary>
/// <c>GET /api/v1/outbox/{service}</c> (scope <c>dead-letters:read</c>): each host answers for its own outbox, so the
/// operators' console can show what has not left a service yet and which groups were parked after failing too often
/// (parked groups are never retried by themselves, and before this only a log line and a counter said so).
/// </summary>
public static partial class OutboxStatusEndpoint
{
    /// <summary>Parked groups listed at most: a broker misconfiguration can park thousands, and the console shows the newest.</summary>
    public const int ParkedListLimit = 100;

    /// <summary>Maps <c>GET /api/v1/outbox/<paramref name="service"/></c> over the outbox in <typeparamref name="TDbContext"/>'s database.</summary>
    public static IEndpointRouteBuilder MapOutboxStatus<TDbContext>(this IEndpointRouteBuilder endpoints, string service)
        where TDbContext : DbContext
    {
        if (!ServiceName().IsMatch(service))
        {
            throw new ArgumentException($"'{service}' is not a service name (lowercase letters and dashes).", nameof(service));
        }

        // Only a PostgreSQL service database carries the durable outbox; the in-memory one (embedded mode) never holds
        // a message, so its answer is "not durable, nothing pending" rather than a query of empty tables that reads as
        // "all delivered".
        var durable = endpoints.ServiceProvider.GetServices<ServiceDatabaseRegistration>()
            .Single(x => x.ContextType == typeof(TDbContext)).IsPostgres;
        endpoints.MapGet($"/api/v1/outbox/{service}", async (HttpContext context, CancellationToken cancellationToken) =>
                Results.Ok(durable
                    ? await ReadAsync(service, context.RequestServices.GetRequiredService<TDbContext>(), cancellationToken)
                    : new OutboxStatus(service, Durable: false, 0, null, 0, 0, [])))
            .RequireScope(OperatorScopes.DeadLettersRead)
            .WithName($"Get{char.ToUpperInvariant(service[0])}{service[1..].Replace("-", "", StringComparison.Ordinal)}OutboxStatus")
            .WithTags("Operators")
            .Produces<OutboxStatus>()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return endpoints;
    }

    private static async Task<OutboxStatus> ReadAsync(string service, DbContext db, CancellationToken cancellationToken)
    {
        // The database's clock, as the delivery service's: not_before defaults to now() there, and an app clock that
        // drifts would show negative ages. One round trip, two result sets.
        var sql = $"""
            SELECT count(*) FILTER (WHERE s.not_before <= now())::int,
                   count(*) FILTER (WHERE s.not_before > now())::int,
                   (SELECT extract(epoch FROM now() - min(not_before))::float8 FROM {OutboxModel.OutboxStateTable}
                    WHERE parked_at IS NULL AND not_before <= now()),
                   (SELECT count(*)::int FROM {OutboxModel.OutboxStateTable} WHERE parked_at IS NOT NULL)
            FROM {OutboxModel.OutboxStateTable} s JOIN {OutboxModel.OutboxMessagesTable} m ON m.outbox_id = s.outbox_id
            WHERE s.parked_at IS NULL;
            SELECT outbox_id, attempts, parked_at, last_error FROM {OutboxModel.OutboxStateTable}
            WHERE parked_at IS NOT NULL ORDER BY parked_at DESC, outbox_id LIMIT {ParkedListLimit};
            """;
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.CommandText = sql;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            var pending = reader.GetInt32(0);
            var scheduled = reader.GetInt32(1);
            double? oldest = reader.IsDBNull(2) ? null : Math.Max(0, reader.GetDouble(2));
            var parkedTotal = reader.IsDBNull(3) ? 0 : reader.GetInt32(3);
            await reader.NextResultAsync(cancellationToken);
            var parked = new List<ParkedOutboxGroup>();
            while (await reader.ReadAsync(cancellationToken))
            {
                parked.Add(new ParkedOutboxGroup(
                    reader.GetGuid(0),
                    reader.GetInt32(1),
                    new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc)),
                    reader.IsDBNull(3) ? null : reader.GetString(3)));
            }

            return new OutboxStatus(service, Durable: true, pending, oldest, scheduled, parkedTotal, parked);
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    [GeneratedRegex("^[a-z][a-z-]*$")]
    private static partial Regex ServiceName();
}
