using System.Diagnostics;
using EventBackbone.Messaging.Outbox;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class PoisonRowSpecs(ProbeInfrastructure infrastructure, ITestOutputHelper output) : IClassFixture<ProbeInfrastructure>
{
    private const int MessageCount = 1_000;

    private static readonly Dictionary<string, string> FastParking = new() { ["Backbone:Messaging:MaxDeliveryAttempts"] = "3" };

    [Fact]
    public async Task One_undeliverable_row_is_parked_and_delays_nobody_else()
    {
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure, settings: FastParking);

        var baseline = await DeliverAsync(host, received, from: 0);
        var poison = await AddPoisonRowAsync(host);
        var withPoison = await DeliverAsync(host, received, from: MessageCount);
        output.WriteLine($"{MessageCount} messages: {baseline.TotalMilliseconds:F0} ms without, {withPoison.TotalMilliseconds:F0} ms with a poison row");

        // Noise on a shared two-core machine is large; a blocked outbox would take the retry backoff (seconds) or forever.
        Assert.True(withPoison < (baseline * 2) + TimeSpan.FromSeconds(1),
            $"With a poison row: {withPoison.TotalMilliseconds:F0} ms, without: {baseline.TotalMilliseconds:F0} ms.");
        await Eventually.HoldsAsync(
            async () => await infrastructure.Database("Probe").ScalarAsync<DateTime?>(
                "SELECT parked_at FROM outbox_state WHERE outbox_id = @id", ("id", poison)) is not null,
            TimeSpan.FromSeconds(30),
            () => "The poison row was never parked.");
        var lastError = await infrastructure.Database("Probe").ScalarAsync<string>(
            "SELECT last_error FROM outbox_state WHERE outbox_id = @id", ("id", poison));
        Assert.False(string.IsNullOrEmpty(lastError));
        Assert.Equal(1, await infrastructure.Database("Probe").ScalarAsync<long>("SELECT count(*) FROM outbox_state"));
        await host.StopAsync();
    }

    private static async Task<TimeSpan> DeliverAsync(IHost host, ReceivedMessages received, int from)
    {
        var timer = Stopwatch.StartNew();
        for (var start = from; start < from + MessageCount; start += 10)
        {
            await using var scope = host.Services.CreateAsyncScope();
            var publish = scope.ServiceProvider.GetRequiredService<IPublishEndpoint>();
            for (var sequence = start; sequence < start + 10; sequence++)
            {
                var id = ProbeDbContext.IdFor(sequence);
                await publish.Publish(new ProbeMessage(id, sequence), context => context.MessageId = id);
            }

            await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SaveChangesAsync();
        }

        await Eventually.HoldsAsync(
            () => Task.FromResult(Enumerable.Range(from, MessageCount).All(x => received.ByMessageId.ContainsKey(ProbeDbContext.IdFor(x)))),
            TimeSpan.FromSeconds(60),
            () => $"Not all of messages {from}..{from + MessageCount - 1} were delivered.");
        return timer.Elapsed;
    }

    /// <summary>A committed row whose destination no transport can resolve: every delivery attempt fails.</summary>
    private static async Task<Guid> AddPoisonRowAsync(IHost host)
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
        var group = new OutboxState { OutboxId = NewId.NextGuid() };
        db.Add(group);
        db.Add(new OutboxMessage
        {
            OutboxId = group.OutboxId,
            MessageId = NewId.NextGuid(),
            ContentType = "application/vnd.masstransit+json",
            MessageType = "urn:message:EventBackbone.Messaging.Probe:ProbeMessage",
            Body = "{}",
            DestinationAddress = new Uri("unknown-transport://nowhere/poison"),
            SentTime = DateTime.UtcNow,
        });
        await db.SaveChangesAsync();
        return group.OutboxId;
    }
}
