using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Ingestion.Api.Webhooks;

/// <summary>
/// Group commit for webhook acceptance: concurrent requests queue their verified webhooks, and a few writers each
/// commit whatever has queued up in one transaction, then answer every request in it. One commit (one WAL flush, one
/// round trip set, one outbox group) serves many requests under load, and a lone request is written at once — no
/// timer holds it back. Each request is still answered only after its own rows are durable.
/// </summary>
public sealed partial class WebhookGroupCommit(IServiceScopeFactory scopes, ILogger<WebhookGroupCommit> logger) : BackgroundService
{
    /// <summary>Transactions in flight at once: while one commits, the next batch forms and another writer takes it.</summary>
    private const int Writers = 2;

    /// <summary>Bounds one transaction's size, so a burst cannot make one commit (and its latency) arbitrarily long.</summary>
    private const int MaxBatch = 64;

    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(4096)
    {
        // A full queue makes requests wait for room: back-pressure instead of unbounded memory.
        FullMode = BoundedChannelFullMode.Wait,
    });

    public async Task<Acceptance> AcceptAsync(VerifiedWebhook webhook, CancellationToken cancellationToken)
    {
        var pending = new Pending(webhook, new TaskCompletionSource<Acceptance>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        // Not cancelled with the request: once queued, the webhook may commit, and its sender's retry is then deduplicated.
        return await pending.Completion.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => WriteAsync(stoppingToken)));
        }
        finally
        {
            _queue.Writer.TryComplete();
            while (_queue.Reader.TryRead(out var abandoned))
            {
                abandoned.Completion.TrySetException(new OperationCanceledException("The host is stopping; the webhook was not accepted."));
            }
        }
    }

    private async Task WriteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatch);
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                if (batch.Count > 0)
                {
                    await CommitAsync(batch, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping; whatever is still queued is failed by ExecuteAsync.
        }
    }

    private async Task CommitAsync(List<Pending> batch, CancellationToken stoppingToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var acceptance = scope.ServiceProvider.GetRequiredService<WebhookAcceptance>();
            var results = await acceptance.AcceptAsync([.. batch.Select(x => x.Webhook)], stoppingToken);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }

            LogCommitted(logger, batch.Count);
        }
        catch (Exception failure)
        {
            // Nothing of this batch committed: every request in it gets the failure (503 when the database is down).
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(failure);
            }
        }
    }

    [LoggerMessage(LogLevel.Debug, "Committed {Count} webhooks in one transaction")]
    private static partial void LogCommitted(ILogger logger, int count);

    private sealed record Pending(VerifiedWebhook Webhook, TaskCompletionSource<Acceptance> Completion);
}
