using EventBackbone.ServiceDefaults.Authentication;
using EventBackbone.Workers.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Workers.Reporting;

public sealed record SignupFunnelReport(DateTimeOffset From, DateTimeOffset To, int Requested, int AccountCreated, int Welcomed, int Verified, int Expired, int Rejected);

public sealed record WebhookVolume(string Source, string EventType, DateTimeOffset Hour, long Count);

public static class ReportEndpoints
{
    public const string ReadScope = OperatorScopes.ReportsRead;

    public static IEndpointRouteBuilder MapReportEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var reports = endpoints.MapGroup("/api/v1/reports").RequireScope(ReadScope);
        reports.MapGet("/signup-funnel", SignupFunnelAsync).WithName("SignupFunnelReport");
        reports.MapGet("/webhooks", WebhooksAsync).WithName("WebhookVolumeReport");
        return endpoints;
    }

    /// <summary>Signups requested in [from, to) (default: the last 24 h) and how far each got.</summary>
    private static async Task<IResult> SignupFunnelAsync(DateTimeOffset? from, DateTimeOffset? to, WorkersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (start, end) = Window(from, to, clock);
        var rows = db.SignupFunnel.AsNoTracking().Where(x => x.RequestedAt >= start && x.RequestedAt < end);
        var report = new SignupFunnelReport(
            start,
            end,
            await rows.CountAsync(cancellationToken),
            await rows.CountAsync(x => x.AccountCreatedAt != null, cancellationToken),
            await rows.CountAsync(x => x.WelcomedAt != null, cancellationToken),
            await rows.CountAsync(x => x.VerifiedAt != null, cancellationToken),
            await rows.CountAsync(x => x.ExpiredAt != null, cancellationToken),
            await rows.CountAsync(x => x.RejectedAt != null, cancellationToken));
        return Results.Ok(report);
    }

    /// <summary>Accepted webhooks per source, type and hour in [from, to) (default: the last 24 h).</summary>
    private static async Task<IResult> WebhooksAsync(DateTimeOffset? from, DateTimeOffset? to, WorkersDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (start, end) = Window(from, to, clock);
        var volume = await db.WebhookHourly.AsNoTracking()
            .Where(x => x.Hour >= start && x.Hour < end)
            .OrderBy(x => x.Hour).ThenBy(x => x.Source).ThenBy(x => x.EventType)
            .Select(x => new WebhookVolume(x.Source, x.EventType, x.Hour, x.Count))
            .ToListAsync(cancellationToken);
        return Results.Ok(volume);
    }

    private static (DateTimeOffset Start, DateTimeOffset End) Window(DateTimeOffset? from, DateTimeOffset? to, TimeProvider clock)
    {
        var end = (to ?? clock.GetUtcNow()).ToUniversalTime();
        return ((from ?? end.AddDays(-1)).ToUniversalTime(), end);
    }
}
