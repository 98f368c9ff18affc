using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Probe;
using EventBackbone.Messaging.Transport;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
var mode = builder.Configuration["Probe:Mode"] ?? throw new ArgumentException("--Probe:Mode send|consume is required");
builder.AddServiceDatabase<ProbeDbContext>("Probe");
builder.AddBackboneBus(bus =>
{
    if (mode == "consume")
    {
        bus.AddConsumer<CountingConsumer>().Endpoint(e => e.Name = "probe-counting");
    }
});
builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
using var host = builder.Build();
await host.StartAsync();
Console.WriteLine("READY");

if (mode == "send")
{
    var count = builder.Configuration.GetValue("Probe:Count", 10_000);
    var rollbackEvery = builder.Configuration.GetValue("Probe:RollbackEvery", 10);
    await SendAsync(host.Services, count, rollbackEvery);
    await WaitForOutboxDrainedAsync(host.Services);
    Console.WriteLine("DONE");
    await host.StopAsync();
    return 0;
}

if (mode == "schedule")
{
    // Schedules two messages for +DelaySeconds (2 by default) and cancels the second, then says so and waits to be
    // SIGKILLed. Attempt n uses ids 2n+1 and 2n+2, so a test that has to arrange this again is not confused by the
    // messages of an earlier arrangement.
    var destination = new Uri(builder.Configuration["Probe:Destination"] ?? "queue:probe-recording");
    var delay = TimeSpan.FromSeconds(builder.Configuration.GetValue("Probe:DelaySeconds", 2));
    var attempt = builder.Configuration.GetValue("Probe:Attempt", 0);
    await using (var scope = host.Services.CreateAsyncScope())
    {
        var scheduler = scope.ServiceProvider.GetRequiredService<IMessageScheduler>();
        var due = DateTime.UtcNow + delay;
        var kept = ProbeDbContext.IdFor((2 * attempt) + 1);
        var cancelled = ProbeDbContext.IdFor((2 * attempt) + 2);
        await scheduler.ScheduleSend(destination, due, new ProbeMessage(kept, 1), Pipe.Execute<SendContext>(x => x.MessageId = kept));
        var toCancel = await scheduler.ScheduleSend(destination, due, new ProbeMessage(cancelled, 2), Pipe.Execute<SendContext>(x => x.MessageId = cancelled));
        await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SaveChangesAsync();
        await scheduler.CancelScheduledSend(destination, toCancel.TokenId);
        Console.WriteLine($"SCHEDULED {due:O}");
    }
}

await host.WaitForShutdownAsync();
return 0;

// One message per transaction; every rollbackEvery-th transaction is rolled back on purpose. Resumes after the last
// committed sequence, so a SIGKILLed run continues where its committed work ends.
static async Task SendAsync(IServiceProvider services, int count, int rollbackEvery)
{
    int next;
    await using (var scope = services.CreateAsyncScope())
    {
        next = (await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SentLog.MaxAsync(x => (int?)x.Sequence) ?? -1) + 1;
    }

    for (var sequence = next; sequence < count; sequence++)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
        var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
        var id = ProbeDbContext.IdFor(sequence);
        await using var transaction = await db.Database.BeginTransactionAsync();
        await publish.Publish(new ProbeMessage(id, sequence), context => context.MessageId = id);
        db.SentLog.Add(new SentRecord { Sequence = sequence, MessageId = id });
        await db.SaveChangesAsync();
        if (sequence % rollbackEvery == 0)
        {
            await transaction.RollbackAsync();
        }
        else
        {
            await transaction.CommitAsync();
        }
    }
}

static async Task WaitForOutboxDrainedAsync(IServiceProvider services)
{
    while (true)
    {
        await using var scope = services.CreateAsyncScope();
        if (!await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().Set<OutboxState>().AnyAsync())
        {
            return;
        }

        await Task.Delay(100);
    }
}
