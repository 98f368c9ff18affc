using EventBackbone.Bench.Harness;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace EventBackbone.Bench.Contenders;

/// <summary>
/// The "no framework" durable baseline: what a team gets by hand with RabbitMQ.Client and Npgsql. The publisher
/// commits an outbox row in a transaction; a relay claims pending rows (FOR UPDATE SKIP LOCKED), publishes them with
/// confirms and deletes them; the consumer records the message id in a dedupe table and writes its effect row in
/// one transaction, then acks. At-least-once on the wire, exactly-once effects.
/// </summary>
public sealed class RawRabbitMqOutboxContender : IContender
{
    private const string Queue = "bench-outbox";

    /// <summary>Rows a relay claims per transaction, and so the bound on its outstanding publisher confirms.</summary>
    private const int RelayBatch = 200;

    /// <summary>
    /// When no one signals, the relay still looks this often: rows committed by a process that is not this one
    /// (or a signal lost to a crash) are published within this delay, not never.
    /// </summary>
    private static readonly TimeSpan RelayPollInterval = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _pending = new(0, 1);
    private NpgsqlDataSource? _database;
    private IConnection? _publisherConnection;
    private IConnection? _consumerConnection;
    private IChannel? _relayChannel;
    private IChannel? _consumerChannel;
    private Task? _relay;
    private IArrivalSink? _arrivals;

    public string Name => "raw-rabbitmq-outbox";

    public async Task StartAsync(BenchEnvironment environment, IArrivalSink arrivals, CancellationToken cancellationToken)
    {
        _arrivals = arrivals;
        var database = await environment.CreateDatabaseAsync("bench_outbox");
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString + BenchEnvironment.PoolIdleLifetime)
        {
            // Publishers beyond the pool wait for a connection, as an edge service's requests would; the bound keeps
            // the run under PostgreSQL's 100 connections, which the tests share.
            MaxPoolSize = ConsumerSideSettings.MaxPoolSize,
        };
        _database = NpgsqlDataSource.Create(connectionString.ConnectionString);
        await using (var create = _database.CreateCommand("""
            CREATE TABLE outbox (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, message_id uuid NOT NULL, body bytea NOT NULL);
            CREATE TABLE inbox (message_id uuid PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE effects (message_id uuid PRIMARY KEY, sequence int NOT NULL);
            """))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var virtualHost = await environment.CreateVirtualHostAsync();

        // Separate connections for the same reason as raw-rabbitmq: flow control on the publisher must not slow acks.
        _publisherConnection = await RabbitConnections.OpenAsync(environment.Settings, virtualHost.Name, "outbox relay", cancellationToken);
        _consumerConnection = await RabbitConnections.OpenAsync(environment.Settings, virtualHost.Name, "outbox consumer", cancellationToken);
        _relayChannel = await _publisherConnection.CreateChannelAsync(
            new CreateChannelOptions(
                publisherConfirmationsEnabled: true,
                publisherConfirmationTrackingEnabled: true,
                outstandingPublisherConfirmationsRateLimiter: null),
            cancellationToken);
        await _relayChannel.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);

        _consumerChannel = await _consumerConnection.CreateChannelAsync(
            new CreateChannelOptions(
                publisherConfirmationsEnabled: false,
                publisherConfirmationTrackingEnabled: false,
                consumerDispatchConcurrency: ConsumerSideSettings.ConcurrentMessages),
            cancellationToken);
        await _consumerChannel.BasicQosAsync(prefetchSize: 0, prefetchCount: ConsumerSideSettings.Prefetch, global: false, cancellationToken);
        var consumer = new AsyncEventingBasicConsumer(_consumerChannel);
        consumer.ReceivedAsync += ConsumeAsync;
        await _consumerChannel.BasicConsumeAsync(Queue, autoAck: false, consumer, cancellationToken);

        _relay = Task.Run(() => RelayAsync(_stopping.Token), CancellationToken.None);
    }

    public async Task PublishAsync(BenchMessage message, CancellationToken cancellationToken)
    {
        await using (var connection = await _database!.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using var insert = new NpgsqlCommand("INSERT INTO outbox (message_id, body) VALUES ($1, $2)", connection, transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = message.MessageId });
            insert.Parameters.Add(new NpgsqlParameter { Value = message.Encode() });
            await insert.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        // Wake the relay now rather than at its next poll; a signal already pending is enough for this row too.
        if (_pending.CurrentCount == 0)
        {
            try
            {
                _pending.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another publisher signalled in between: the relay will look anyway.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_relay is not null)
        {
            try
            {
                await _relay;
            }
            catch (OperationCanceledException)
            {
                // The relay stops by cancellation.
            }
        }

        foreach (var channel in new[] { _consumerChannel, _relayChannel })
        {
            if (channel is not null)
            {
                await channel.CloseAsync();
                channel.Dispose();
            }
        }

        foreach (var connection in new[] { _consumerConnection, _publisherConnection })
        {
            if (connection is not null)
            {
                await connection.CloseAsync();
                connection.Dispose();
            }
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        _pending.Dispose();
        _stopping.Dispose();
    }

    private async Task RelayAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            int relayed;
            try
            {
                relayed = await RelayBatchAsync(stopping);
            }
            catch (Exception failure) when (failure is not OperationCanceledException)
            {
                // A relay that died here would leave every later row unpublished; it says why and tries again, and
                // the phase reports the messages lost if the failure persists.
                await Console.Error.WriteLineAsync($"{Name} relay: {failure.GetType().Name}: {failure.Message}");
                await Task.Delay(TimeSpan.FromMilliseconds(100), stopping);
                continue;
            }

            if (relayed < RelayBatch)
            {
                // A full batch means more rows are likely waiting: only a short batch lets the relay rest.
                await _pending.WaitAsync(RelayPollInterval, stopping);
            }
        }
    }

    private async Task<int> RelayBatchAsync(CancellationToken stopping)
    {
        await using var connection = await _database!.OpenConnectionAsync(stopping);
        await using var transaction = await connection.BeginTransactionAsync(stopping);
        var ids = new List<long>(RelayBatch);
        var bodies = new List<(Guid MessageId, byte[] Body)>(RelayBatch);

        // SKIP LOCKED: a second relay (another instance of the service) takes the next rows instead of waiting on
        // these or publishing them twice.
        await using (var claim = new NpgsqlCommand(
            "SELECT id, message_id, body FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", connection, transaction))
        {
            claim.Parameters.Add(new NpgsqlParameter { Value = RelayBatch });
            await using var rows = await claim.ExecuteReaderAsync(stopping);
            while (await rows.ReadAsync(stopping))
            {
                ids.Add(rows.GetInt64(0));
                bodies.Add((rows.GetGuid(1), (byte[])rows[2]));
            }
        }

        if (ids.Count == 0)
        {
            return 0;
        }

        // All of the batch's publishes in flight at once, then wait for every confirm: one round of confirms per
        // batch instead of one per message. If any is nacked or returned this throws, the transaction rolls back and
        // the rows stay for the next attempt (at-least-once; the consumer's dedupe absorbs the repeats).
        var publishes = new List<Task>(bodies.Count);
        foreach (var (messageId, body) in bodies)
        {
            var properties = new BasicProperties { Persistent = true, MessageId = messageId.ToString() };
            publishes.Add(_relayChannel!.BasicPublishAsync(string.Empty, Queue, mandatory: true, properties, body, stopping).AsTask());
        }

        await Task.WhenAll(publishes);

        await using (var delete = new NpgsqlCommand("DELETE FROM outbox WHERE id = ANY($1)", connection, transaction))
        {
            delete.Parameters.Add(new NpgsqlParameter { Value = ids.ToArray() });
            await delete.ExecuteNonQueryAsync(stopping);
        }

        await transaction.CommitAsync(stopping);
        return ids.Count;
    }

    private async Task ConsumeAsync(object sender, BasicDeliverEventArgs delivery)
    {
        var message = BenchMessage.Decode(delivery.Body.Span);
        bool firstDelivery;
        await using (var connection = await _database!.OpenConnectionAsync(delivery.CancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(delivery.CancellationToken))
        {
            await using var dedupe = new NpgsqlCommand(
                "INSERT INTO inbox (message_id) VALUES ($1) ON CONFLICT DO NOTHING", connection, transaction);
            dedupe.Parameters.Add(new NpgsqlParameter { Value = message.MessageId });
            firstDelivery = await dedupe.ExecuteNonQueryAsync(delivery.CancellationToken) == 1;
            if (firstDelivery)
            {
                await using var effect = new NpgsqlCommand(
                    "INSERT INTO effects (message_id, sequence) VALUES ($1, $2)", connection, transaction);
                effect.Parameters.Add(new NpgsqlParameter { Value = message.MessageId });
                effect.Parameters.Add(new NpgsqlParameter { Value = message.Sequence });
                await effect.ExecuteNonQueryAsync(delivery.CancellationToken);
            }

            await transaction.CommitAsync(delivery.CancellationToken);
        }

        // Reported only once the effect is committed, and never for a redelivery the dedupe table absorbed: a
        // duplicate reported here is a duplicated effect, which is what the smoke run must catch.
        if (firstDelivery)
        {
            _arrivals!.Arrived(message);
        }

        // Acked after the commit: a crash in between redelivers, and the dedupe row makes that harmless.
        await _consumerChannel!.BasicAckAsync(delivery.DeliveryTag, multiple: false, delivery.CancellationToken);
    }
}
