using EventBackbone.Contracts.Notifications;
using EventBackbone.Workers.Integrations;
using EventBackbone.Workers.Notifications;
using EventBackbone.Workers.Persistence;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Workers.Tests;

/// <summary>The workers' consumers as their module registers them, on the test harness and in-memory storage.</summary>
public sealed class WorkersHarness : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    public WorkersHarness(INotificationProvider? notificationProvider = null, NotificationSettings? notificationSettings = null)
    {
        var database = $"workers-{Guid.NewGuid():N}";
        _provider = new ServiceCollection()
            .AddDbContext<WorkersDbContext>(options => options.UseInMemoryDatabase(database))
            .AddSingleton(TimeProvider.System)
            .AddSingleton(notificationSettings ?? new NotificationSettings(null, []))
            .AddSingleton(notificationProvider ?? new FakeNotificationProvider())
            .AddSingleton(new IntegrationSettings(new Dictionary<string, IntegrationKind>()))
            .AddMassTransitTestHarness(bus =>
            {
                WorkersComposition.ConfigureBus(bus);
                // Scheduled redelivery needs a scheduler, as the hosts have (durable in production, in-memory here).
                bus.AddDelayedMessageScheduler();
                bus.UsingInMemory((context, cfg) =>
                {
                    cfg.UseDelayedMessageScheduler();
                    cfg.ConfigureEndpoints(context);
                });
            })
            .BuildServiceProvider(validateScopes: true);
        Harness = _provider.GetRequiredService<ITestHarness>();
    }

    public ITestHarness Harness { get; }

    public Task StartAsync() => Harness.Start();

    public async Task<List<T>> QueryAsync<T>(Func<WorkersDbContext, IQueryable<T>> query)
    {
        await using var scope = _provider.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<WorkersDbContext>()).ToListAsync();
    }

    public async ValueTask DisposeAsync() => await _provider.DisposeAsync();
}

/// <summary>A provider that answers as told and remembers what it was asked.</summary>
public sealed class FakeNotificationProvider(Func<SendNotification, string?>? answer = null) : INotificationProvider
{
    public List<SendNotification> Calls { get; } = [];

    public Task<string?> SendAsync(SendNotification notification, CancellationToken cancellationToken)
    {
        lock (Calls)
        {
            Calls.Add(notification);
        }

        return Task.FromResult(answer?.Invoke(notification));
    }
}
