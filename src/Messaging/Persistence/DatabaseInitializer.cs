using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Persistence;

/// <summary>
/// Applies the service's EF Core migrations at start. EF Core 9+ takes a database-wide migration lock, so several
/// instances starting at once apply each migration exactly once instead of racing on CREATE TABLE.
/// </summary>
internal sealed class DatabaseInitializer<TContext>(IServiceScopeFactory scopes, ILogger<DatabaseInitializer<TContext>> logger)
    : IHostedService
    where TContext : DbContext
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A database that is still starting (compose, Kubernetes) must not crash-loop the host: wait for it, warning
        // once per attempt with a capped backoff, and let readiness say we are not ready meanwhile.
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await MigrateAsync(cancellationToken);
                return;
            }
            catch (Exception unreachable) when (DatabaseFailures.IsUnavailable(unreachable) && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("The {Context} database is unreachable ({Reason}); trying again in {Delay}",
                    typeof(TContext).Name, unreachable.Message, delay);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
            }
        }
    }

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        if (db.Database.IsRelational() && db.Database.GetMigrations().Any())
        {
            // Create the history table first (IF NOT EXISTS): on a new database EF otherwise queries it before it
            // exists and logs an error an operator would chase for nothing.
            await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
            // EF Core's own migration lock is released when the first migration's transaction commits, so with two
            // pending migrations a second instance applied the second one too ("relation already exists", the host
            // failed to start). A session advisory lock on the connection the migrator then uses spans them all.
            await db.Database.OpenConnectionAsync(cancellationToken);
            try
            {
                await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_lock(hashtext('eventbackbone:migrations'))", cancellationToken);
                await db.Database.MigrateAsync(cancellationToken);
            }
            finally
            {
                // Closing the pooled connection does not end the session: unlock explicitly.
                await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_unlock(hashtext('eventbackbone:migrations'))", CancellationToken.None);
                await db.Database.CloseConnectionAsync();
            }

            logger.LogInformation("The {Context} database schema is up to date", typeof(TContext).Name);
        }
        else
        {
            // In-memory stores and migration-less contexts (test fixtures) get the model's schema as it is.
            await db.Database.EnsureCreatedAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
