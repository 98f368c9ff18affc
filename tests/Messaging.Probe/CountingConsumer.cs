using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Probe;

/// <summary>One database effect per message: the counter must end equal to the number of distinct messages.</summary>
public sealed class CountingConsumer(ProbeDbContext db) : IConsumer<ProbeMessage>
{
    public async Task Consume(ConsumeContext<ProbeMessage> context) =>
        await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO counters (name, value) VALUES ('effects', 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1",
            context.CancellationToken);
}
