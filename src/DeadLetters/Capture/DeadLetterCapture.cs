using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace EventBackbone.DeadLetters.Capture;

/// <summary>
/// Consumes every <c>*_error</c> and <c>*_skipped</c> queue of the vhost — found through the management API, again every
/// discovery interval so queues that appear later are picked up — into the store. A message is acknowledged only after
/// its record committed: a crash in between redelivers it, and the upsert by MessageId makes the second capture a no-op.
/// </summary>
public sealed partial class DeadLetterCapture(
    DeadLetterSettings settings,
    DeadLetterStore store,
    DeadLetterMetrics metrics,
    IHttpClientFactory httpClients,
    TimeProvider clock,
    ILogger<DeadLetterCapture> logger) : BackgroundService
{
    public const string ManagementClient = "rabbitmq-management";

    /// <summary>Several messages in flight per queue, so one slow commit does not stall a queue; bounded, so a large queue cannot flood memory.</summary>
    private const ushort Prefetch = 32;

    /// <summary>
    /// Commits in flight per queue: one at a time, capture would run at one database round trip per message. Each
    /// message is still acknowledged only after its own commit.
    /// </summary>
    private const ushort ConcurrentCommits = 8;

    private readonly ConcurrentDictionary<string, IChannel> _consumers = new(StringComparer.Ordinal);

    private volatile bool _capturing;

    /// <summary>Connected to the broker and through a discovery round: what readiness means for this service.</summary>
    public bool IsCapturing => _capturing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // A reconnect is ours to do (below), with every queue consumed again.
                await using var connection = await settings.ConnectAsync("capture", stoppingToken);
                while (!stoppingToken.IsCancellationRequested && connection.IsOpen)
                {
                    foreach (var queue in await DeadLetterQueuesAsync(stoppingToken))
                    {
                        if (!_consumers.ContainsKey(queue))
                        {
                            _consumers[queue] = await ConsumeAsync(connection, queue, stoppingToken);
                            LogConsuming(logger, queue);
                        }
                    }

                    _capturing = true;
                    metrics.Waiting(await store.WaitingByQueueAsync(stoppingToken));
                    await Task.Delay(settings.DiscoveryInterval, clock, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception outage)
            {
                LogOutage(logger, outage.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), clock, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            finally
            {
                _capturing = false;
                _consumers.Clear();
            }
        }
    }

    private async Task<IChannel> ConsumeAsync(IConnection connection, string queue, CancellationToken stoppingToken)
    {
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(false, false, consumerDispatchConcurrency: ConcurrentCommits), stoppingToken);
        await channel.BasicQosAsync(0, Prefetch, false, stoppingToken);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            try
            {
                var captured = CapturedMessage.From(queue, delivery.BasicProperties, delivery.Body, clock.GetUtcNow());
                await store.UpsertAsync(captured, stoppingToken);
                metrics.Captured(queue);
                await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, stoppingToken);
            }
            catch (Exception failure) when (!stoppingToken.IsCancellationRequested)
            {
                // Not stored, so not acknowledged: back to the queue, tried again after a pause.
                LogCaptureFailed(logger, queue, failure.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken);
                await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true, stoppingToken);
            }
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer, stoppingToken);
        return channel;
    }

    private async Task<IReadOnlyList<string>> DeadLetterQueuesAsync(CancellationToken cancellationToken)
    {
        using var http = httpClients.CreateClient(ManagementClient);
        http.BaseAddress = settings.ManagementUrl;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{settings.RabbitMq.Username}:{settings.RabbitMq.Password}")));
        var queues = await http.GetFromJsonAsync<JsonElement>(
            new Uri($"api/queues/{Uri.EscapeDataString(settings.RabbitMq.VirtualHost)}?columns=name", UriKind.Relative), cancellationToken);
        return [.. queues.EnumerateArray().Select(x => x.GetProperty("name").GetString()!).Where(CapturedMessage.IsDeadLetterQueue)];
    }

    [LoggerMessage(LogLevel.Information, "Capturing dead letters from {Queue}")]
    private static partial void LogConsuming(ILogger logger, string queue);

    [LoggerMessage(LogLevel.Warning, "Dead-letter capture lost its broker connection ({Reason}); reconnecting")]
    private static partial void LogOutage(ILogger logger, string reason);

    [LoggerMessage(LogLevel.Warning, "A dead letter from {Queue} could not be stored ({Reason}); it stays on the queue")]
    private static partial void LogCaptureFailed(ILogger logger, string queue, string reason);
}

/// <summary>Writes captured messages; one statement each, idempotent per MessageId and failure time.</summary>
public sealed class DeadLetterStore(NpgsqlDataSource dataSource)
{
    public async Task UpsertAsync(CapturedMessage message, CancellationToken cancellationToken)
    {
        // A failure after a replay (a later MT-Fault-Timestamp) counts; capturing the same failure twice (redelivered
        // after a crash between commit and ack) does not.
        await using var upsert = dataSource.CreateCommand("""
            WITH letter AS (
                INSERT INTO dead_letters (message_id, correlation_id, source_queue, target_queue, reason, message_type, exception_type,
                    exception_message, stack_trace, consumer_type, host, fingerprint, content_type, body, headers,
                    first_failed_at, last_failed_at, failure_count, status, input_address_mismatch)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, $16, 1, 'dead', $17)
                ON CONFLICT (message_id) DO UPDATE SET
                    failure_count = dead_letters.failure_count + CASE WHEN EXCLUDED.last_failed_at > dead_letters.last_failed_at THEN 1 ELSE 0 END,
                    last_failed_at = GREATEST(dead_letters.last_failed_at, EXCLUDED.last_failed_at),
                    source_queue = EXCLUDED.source_queue, target_queue = EXCLUDED.target_queue, reason = EXCLUDED.reason,
                    exception_type = EXCLUDED.exception_type, exception_message = EXCLUDED.exception_message,
                    stack_trace = EXCLUDED.stack_trace, consumer_type = EXCLUDED.consumer_type, host = EXCLUDED.host,
                    fingerprint = EXCLUDED.fingerprint, headers = EXCLUDED.headers, body = EXCLUDED.body, status = 'dead',
                    input_address_mismatch = EXCLUDED.input_address_mismatch
                RETURNING message_id)
            -- The history: one row per failure, so the same failure captured twice is still one.
            INSERT INTO dead_letter_failures (message_id, failed_at, source_queue, exception_type, exception_message, host)
            SELECT message_id, $16, $3, $7, $8, $11 FROM letter
            ON CONFLICT (message_id, failed_at) DO NOTHING
            """);
        object?[] values =
        [
            message.MessageId, message.CorrelationId, message.SourceQueue, message.TargetQueue, message.Reason, message.MessageType,
            message.ExceptionType, message.ExceptionMessage, message.StackTrace, message.ConsumerType, message.Host, message.Fingerprint,
            message.ContentType, message.Body, message.HeadersJson, message.FailedAt, message.InputAddressMismatch,
        ];
        foreach (var value in values)
        {
            upsert.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        await upsert.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<Dictionary<string, long>> WaitingByQueueAsync(CancellationToken cancellationToken)
    {
        await using var count = dataSource.CreateCommand("SELECT source_queue, count(*) FROM dead_letters WHERE status = 'dead' GROUP BY source_queue");
        await using var reader = await count.ExecuteReaderAsync(cancellationToken);
        var waiting = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            waiting[reader.GetString(0)] = reader.GetInt64(1);
        }

        return waiting;
    }
}
