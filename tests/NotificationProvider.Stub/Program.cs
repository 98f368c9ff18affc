using System.Collections.Concurrent;
using System.Text.Json;
using EventBackbone.NotificationProvider.Stub;

var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();
var delivered = new ConcurrentDictionary<string, DeliveredNotification>(StringComparer.Ordinal);
var behaviour = new BehaviourSwitch();
var requests = 0L;

app.MapGet("/health/ready", () => Results.Ok());

// The provider's API: one notification per Idempotency-Key, however often it is posted.
app.MapPost("/notifications", async (HttpRequest request, CancellationToken cancellationToken) =>
{
    var attempt = Interlocked.Increment(ref requests);
    var current = behaviour.Current;
    if (current.DelayMs > 0)
    {
        await Task.Delay(current.DelayMs, cancellationToken);
    }

    if (current.Mode == "down" || (current.Mode == "flaky" && attempt % 2 == 1))
    {
        return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
    }

    if (request.Headers["Idempotency-Key"].ToString() is not { Length: > 0 } key)
    {
        return Results.BadRequest(new { error = "Idempotency-Key is required." });
    }

    var body = await JsonSerializer.DeserializeAsync<JsonElement>(request.Body, cancellationToken: cancellationToken);
    var notification = delivered.GetOrAdd(key, _ => new DeliveredNotification(
        key,
        body.GetProperty("template").GetString() ?? "",
        body.GetProperty("recipient").GetString() ?? "",
        DateTimeOffset.UtcNow));
    return Results.Accepted(value: new { id = notification.Key });
});

app.MapGet("/notifications", (string? recipient) => delivered.Values
    .Where(x => recipient is null || x.Recipient == recipient)
    .OrderBy(x => x.DeliveredAt));
app.MapGet("/stats", () => new { requests = Interlocked.Read(ref requests), delivered = delivered.Count });

// Test control: {"mode":"ok"|"slow"|"flaky"|"down","delayMs":0}.
app.MapPut("/behaviour", (Behaviour next) =>
{
    behaviour.Current = next;
    return Results.Ok(next);
});

app.Run();

namespace EventBackbone.NotificationProvider.Stub
{
    public sealed record DeliveredNotification(string Key, string Template, string Recipient, DateTimeOffset DeliveredAt);

    public sealed record Behaviour(string Mode, int DelayMs);

    internal sealed class BehaviourSwitch
    {
        private Behaviour _current = new("ok", 0);

        public Behaviour Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }
    }
}
