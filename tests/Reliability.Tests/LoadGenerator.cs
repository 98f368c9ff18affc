using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.Reliability.Tests;

public enum RequestKind
{
    /// <summary>A signed GitHub webhook with a delivery id of its own: must be accepted and have exactly one effect.</summary>
    Webhook,

    /// <summary>A second delivery of an accepted webhook (same delivery id): must answer 200 with the original event id.</summary>
    DuplicateWebhook,

    /// <summary>A webhook with a wrong signature: must be refused (401) and have no effect.</summary>
    ForgedWebhook,

    /// <summary>A <c>request-signup</c> command with an Idempotency-Key: one signup workflow to its terminal state.</summary>
    Signup,
}

/// <summary>One logical request, however many attempts it took, and its final answer.</summary>
public sealed class LoggedRequest(RequestKind kind, string key, string? email, Guid? originalEventId)
{
    public RequestKind Kind { get; } = kind;

    /// <summary>The delivery id (webhooks) or Idempotency-Key (commands) every attempt of this request carries.</summary>
    public string Key { get; } = key;

    public string? Email { get; } = email;

    /// <summary>For a duplicate: the event id the first delivery was given.</summary>
    public Guid? OriginalEventId { get; } = originalEventId;

    public int Attempts { get; set; }

    /// <summary>Seconds into the load when the first attempt was sent, and when the final answer came.</summary>
    public double SentAt { get; set; }

    public double AnsweredAt { get; set; }

    /// <summary>The final status; null when every attempt failed without an answer until the retry deadline.</summary>
    public HttpStatusCode? Status { get; set; }

    /// <summary>The event id (webhooks) or command id (= signup id) the API answered.</summary>
    public Guid? Id { get; set; }

    public string? LastFailure { get; set; }

    /// <summary>Why the first attempt did not count, and when (seconds into the load).</summary>
    public string? FirstFailure { get; set; }

    public bool Accepted => Status is HttpStatusCode.Accepted or HttpStatusCode.OK;
}

/// <summary>
/// Sends logical requests at a fixed rate (open loop: request i is due at start + i/rate, whatever happened to the
/// earlier ones) with unique ids, and retries each — same delivery id, same Idempotency-Key, as a real sender does —
/// until it gets a definitive answer (2xx or 4xx). A request in flight when the API is killed is therefore never left
/// in doubt: its retry is either accepted, or answered as the duplicate of the attempt that did commit.
/// </summary>
public sealed class LoadGenerator(Func<Uri> apiAddress, string token, string scenario, int seed)
{
    private static readonly TimeSpan RetryDeadline = TimeSpan.FromSeconds(90);

    private readonly ConcurrentQueue<LoggedRequest> _log = new();
    private readonly ConcurrentBag<LoggedRequest> _acceptedWebhooks = [];
    private readonly Random _random = new(seed);
    private readonly Stopwatch _clock = new();
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The X-GitHub-Event every webhook of this scenario carries, so its effects can be counted apart.</summary>
    public string EventType { get; } = $"load-{scenario}";

    public IReadOnlyCollection<LoggedRequest> Requests => _log;

    public async Task RunAsync(TimeSpan duration, double ratePerSecond, CancellationToken cancellationToken)
    {
        var count = (int)(duration.TotalSeconds * ratePerSecond);
        var clock = _clock;
        clock.Restart();
        var inFlight = new List<Task>(count);
        for (var i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            // The clock read once (a second read after the check can make the wait negative, which throws).
            var wait = TimeSpan.FromSeconds(i / ratePerSecond) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            var request = Next();
            request.SentAt = clock.Elapsed.TotalSeconds;
            _log.Enqueue(request);
            inFlight.Add(Task.Run(() => SendAsync(request, cancellationToken), cancellationToken));
        }

        await Task.WhenAll(inFlight);
    }

    private LoggedRequest Next()
    {
        var roll = _random.NextDouble();
        var key = $"{EventType}-{Guid.NewGuid():N}";
        if (roll < 0.10 && _acceptedWebhooks.TryPeek(out var original) && original.Id is { } originalId)
        {
            return new LoggedRequest(RequestKind.DuplicateWebhook, original.Key, null, originalId);
        }

        return roll switch
        {
            < 0.15 => new LoggedRequest(RequestKind.ForgedWebhook, key, null, null),
            < 0.35 => new LoggedRequest(RequestKind.Signup, key, $"{key}@reliability.example", null),
            _ => new LoggedRequest(RequestKind.Webhook, key, null, null),
        };
    }

    private async Task SendAsync(LoggedRequest request, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + RetryDeadline;
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!cancellationToken.IsCancellationRequested)
        {
            request.Attempts++;
            try
            {
                using var message = Build(request);
                using var response = await _client.SendAsync(message, cancellationToken);
                var status = response.StatusCode;
                // 5xx and 429 are "not now": the sender tries again later. Everything else is a definitive answer.
                if ((int)status < 500 && status != HttpStatusCode.TooManyRequests)
                {
                    request.Status = status;
                    request.AnsweredAt = _clock.Elapsed.TotalSeconds;
                    if (!request.Accepted)
                    {
                        request.LastFailure = await response.Content.ReadAsStringAsync(cancellationToken);
                    }

                    if (request.Accepted)
                    {
                        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                        request.Id = body.TryGetProperty("eventId", out var eventId) ? eventId.GetGuid()
                            : body.TryGetProperty("commandId", out var commandId) ? commandId.GetGuid() : null;
                        if (request.Kind == RequestKind.Webhook)
                        {
                            _acceptedWebhooks.Add(request);
                        }
                    }

                    return;
                }

                request.LastFailure = $"{(int)status} {await response.Content.ReadAsStringAsync(cancellationToken)}";
                request.FirstFailure ??= $"{_clock.Elapsed.TotalSeconds:F1}s {request.LastFailure}";
            }
            catch (Exception failure) when (failure is HttpRequestException || (failure is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                request.LastFailure = $"{failure.GetType().Name}: {failure.Message}";
                request.FirstFailure ??= $"{_clock.Elapsed.TotalSeconds:F1}s {request.LastFailure}";
            }

            if (DateTime.UtcNow > deadline)
            {
                return;
            }

            await Task.Delay(backoff, cancellationToken);
            backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 2000));
        }
    }

    private HttpRequestMessage Build(LoggedRequest request)
    {
        var api = apiAddress();
        if (request.Kind == RequestKind.Signup)
        {
            var command = new HttpRequestMessage(HttpMethod.Post, new Uri(api, "/api/v1/commands/request-signup"))
            {
                Content = JsonContent.Create(new { email = request.Email }),
            };
            command.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            command.Headers.Add("Idempotency-Key", request.Key);
            return command;
        }

        // The body names the delivery, so a duplicate carries exactly the bytes (and signature) of its original.
        var body = $$"""{"delivery":"{{request.Key}}","scenario":"{{EventType}}"}""";
        var webhook = new HttpRequestMessage(HttpMethod.Post, new Uri(api, "/api/v1/webhooks/github"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        var secret = request.Kind == RequestKind.ForgedWebhook ? "not-the-secret" : ReliabilityTopology.GitHubSecret;
        webhook.Headers.Add("X-Hub-Signature-256", WebhookSigning.Sha256Header(secret, body));
        webhook.Headers.Add("X-GitHub-Event", EventType);
        webhook.Headers.Add("X-GitHub-Delivery", request.Key);
        return webhook;
    }
}
