using System.Globalization;
using EventBackbone.Messaging.Persistence;
using EventBackbone.Messaging.Probe;
using EventBackbone.Messaging.Transport;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// A host the durability tests run as a child process and SIGKILL at random moments. Modes:
//   send      writes transactions [From, To) through --Probe:WritePath, PerTransaction messages each, every
//             RollbackEvery-th rolled back on purpose; then stays up delivering until stopped.
//   schedule  schedules two messages through the write path for +DelaySeconds, cancels the second, prints SCHEDULED.
//   consume   counts ProbeMessage effects through the inbox (CountingConsumer).
var builder = Host.CreateApplicationBuilder(args);
var mode = builder.Configuration["Probe:Mode"] ?? throw new ArgumentException("--Probe:Mode send|schedule|consume is required");
var path = WritePaths.Named(builder.Configuration["Probe:WritePath"] ?? "ef-core-bus-outbox");
builder.AddServiceDatabase<ProbeDbContext>("Probe");
builder.AddBackboneBus(bus =>
{
    if (mode == "consume")
    {
        bus.AddConsumer<CountingConsumer>().Endpoint(e => e.Name = "probe-counting");
    }
    else
    {
        path.ConfigureBus(bus);
    }
});
builder.Services.Configure<MassTransitHostOptions>(options => options.WaitUntilStarted = true);
using var host = builder.Build();
await host.StartAsync();
Console.WriteLine("READY");

if (mode == "send")
{
    var from = builder.Configuration.GetValue("Probe:From", 0);
    var to = builder.Configuration.GetValue("Probe:To", 1_000);
    var size = builder.Configuration.GetValue("Probe:PerTransaction", 4);
    var rollbackEvery = builder.Configuration.GetValue("Probe:RollbackEvery", 10);
    var next = path.RewritesAreDeduplicated ? from : await ResumeAtAsync(host.Services, from, to, size);
    for (var number = next; number < to; number++)
    {
        await path.WriteAsync(host.Services, ProbeTransaction.Create(number, size, commit: number % rollbackEvery != 0), CancellationToken.None);
    }

    Console.WriteLine("WRITTEN");
}

if (mode == "schedule")
{
    var destination = new Uri(builder.Configuration["Probe:Destination"] ?? "queue:probe-recording");
    var delay = TimeSpan.FromSeconds(builder.Configuration.GetValue("Probe:DelaySeconds", 2));
    var schedule = new ProbeSchedule(destination, delay, builder.Configuration.GetValue("Probe:Arrangement", 0));
    // A lower bound of the due time: each path adds the delay when it schedules, which is later. Reading the real due
    // time back from the outbox hung: this probe's own delivery service had already sent and deleted the row.
    var dueAtLeast = DateTime.UtcNow + delay;
    await path.ScheduleAsync(host.Services, schedule, CancellationToken.None);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SCHEDULED {dueAtLeast:O}"));
}

await host.WaitForShutdownAsync();
return 0;

// After a SIGKILL: continue after the last transaction of this range whose sent log committed (rolled-back ones leave none).
static async Task<int> ResumeAtAsync(IServiceProvider services, int from, int to, int size)
{
    await using var scope = services.CreateAsyncScope();
    var last = await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SentLog
        .Where(x => x.Sequence >= from * size && x.Sequence < to * size)
        .MaxAsync(x => (int?)x.Sequence);
    return last is null ? from : (last.Value / size) + 1;
}
