using System.Globalization;
using System.Text;
using EventBackbone.TestInfrastructure;
using RabbitMQ.Client;

namespace EventBackbone.Console.Browser.Tests;

/// <summary>One failure to seed: the exception a consumer threw on a message of the given type.</summary>
internal sealed record Failure(string ExceptionType, string ExceptionMessage, string Frame = "at Shop.Orders.OrderConsumer.Consume(ConsumeContext`1 context)");

/// <summary>
/// Seeds real dead letters: a message with MassTransit's fault headers put into <c>&lt;queue&gt;_error</c>, exactly as
/// MassTransit moves a faulted message there. The running DeadLetters host discovers the error queue, captures the
/// message and stores it; the seeder waits until the store has it. The queue itself is declared too (with no consumer),
/// so a replay lands there and can be counted.
/// </summary>
internal sealed class DeadLetterSeeder(IConnection broker, ScratchDatabase store, Func<string> logs) : IAsyncDisposable
{
    public const string MessageType = "urn:message:Shop.Orders:OrderPlaced";

    public IConnection Broker => broker;

    /// <summary>A queue name no other spec uses.</summary>
    public static string UniqueQueue(string purpose) => $"{purpose}-{Guid.NewGuid():N}"[..(purpose.Length + 9)];

    public async Task<IReadOnlyList<Guid>> SeedAsync(string queue, params Failure[] failures)
    {
        await using var channel = await broker.CreateChannelAsync();
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueDeclareAsync($"{queue}_error", durable: true, exclusive: false, autoDelete: false);
        var ids = new List<Guid>();
        foreach (var failure in failures)
        {
            var id = Guid.NewGuid();
            ids.Add(id);
            var properties = new BasicProperties
            {
                Persistent = true,
                MessageId = id.ToString(),
                ContentType = "application/vnd.masstransit+json",
                Headers = new Dictionary<string, object?>
                {
                    ["MT-Fault-ExceptionType"] = failure.ExceptionType,
                    ["MT-Fault-Message"] = failure.ExceptionMessage,
                    ["MT-Fault-StackTrace"] = $"{failure.ExceptionType}: {failure.ExceptionMessage}\n   {failure.Frame} in /src/Shop/OrderConsumer.cs:line 42\n   at MassTransit.DependencyInjection.ScopeConsumerFactory`1.Send[TMessage](ConsumeContext`1 context, IPipe`1 next)",
                    ["MT-Fault-MessageType"] = MessageType,
                    ["MT-Fault-ConsumerType"] = "Shop.Orders.OrderConsumer",
                    ["MT-Fault-InputAddress"] = $"rabbitmq://localhost/{queue}",
                    ["MT-Fault-Timestamp"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                    ["MT-Host-MachineName"] = "shop-orders-1",
                },
            };
            var order = $$"""{"orderId":"{{Guid.NewGuid()}}","total":"12.50"}""";
            var body = $$"""{"messageId":"{{id}}","messageType":["{{MessageType}}"],"message":{{order}},"headers":{}""" + "}";
            await channel.BasicPublishAsync("", $"{queue}_error", mandatory: true, properties, Encoding.UTF8.GetBytes(body));
        }

        await Eventually.HoldsAsync(
            async () => await store.ScalarAsync<long>("SELECT count(*) FROM dead_letters WHERE message_id = ANY(@ids)", ("ids", ids.ToArray())) == ids.Count,
            TimeSpan.FromMinutes(2),
            () => $"The seeded failures on {queue}_error were not all captured.\n{logs()}");
        return ids;
    }

    /// <summary>How many messages wait in <paramref name="queue"/> (replays land there: nothing consumes it).</summary>
    public Task<long> DepthAsync(string queue) => RabbitMqQueues.DepthAsync(broker, queue);

    public async ValueTask DisposeAsync() => await broker.DisposeAsync();
}
