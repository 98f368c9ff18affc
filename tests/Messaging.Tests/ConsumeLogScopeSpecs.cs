using System.Collections.Concurrent;
using EventBackbone.Messaging.Transport;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventBackbone.Messaging.Tests;

public sealed record LoggedProbe(Guid Id);

/// <summary>Writes one plain line, naming nothing: whatever identifies the message must come from the scope.</summary>
public sealed class LoggedProbeConsumer(ILogger<LoggedProbeConsumer> logger) : IConsumer<LoggedProbe>
{
    public Task Consume(ConsumeContext<LoggedProbe> context)
    {
        logger.LogInformation("probe consumed");
        return Task.CompletedTask;
    }
}

/// <summary>Every line a consumer writes carries the message's ids, and an accepted webhook's event id and source.</summary>
[Trait("Tier", "Fast")]
public sealed class ConsumeLogScopeSpecs : IAsyncLifetime
{
    private readonly ScopeRecorder _recorder = new();
    private ServiceProvider _provider = null!;

    private ITestHarness Harness => _provider.GetRequiredService<ITestHarness>();

    public async Task InitializeAsync()
    {
        _provider = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(_recorder))
            .AddMassTransitTestHarness(bus =>
            {
                bus.AddConsumer<LoggedProbeConsumer>();
                bus.AddConfigureEndpointsCallback((context, _, endpoint) => endpoint.AddPrePipeSpecification(
                    new FilterPipeSpecification<ConsumeContext>(new ConsumeLogScope(context.GetRequiredService<ILogger<ConsumeLogScope>>()))));
            })
            .BuildServiceProvider(true);
        await Harness.Start();
    }

    public async Task DisposeAsync() => await _provider.DisposeAsync();

    [Fact]
    public async Task A_consumer_line_carries_the_message_correlation_and_conversation_ids()
    {
        var messageId = NewId.NextGuid();
        var correlationId = NewId.NextGuid();

        await Harness.Bus.Publish(new LoggedProbe(Guid.NewGuid()), context =>
        {
            context.MessageId = messageId;
            context.CorrelationId = correlationId;
        });

        var line = await _recorder.LineAsync("probe consumed");
        Assert.Equal(messageId, line["MessageId"]);
        Assert.Equal(correlationId, line["CorrelationId"]);
        Assert.NotNull(line["ConversationId"]);
        Assert.False(line.ContainsKey("Source"));
    }

    [Fact]
    public async Task Without_a_correlation_id_the_conversation_stands_in_and_a_webhook_names_its_event_and_source()
    {
        var eventId = NewId.NextGuid();

        await Harness.Bus.Publish(new LoggedProbe(Guid.NewGuid()), context =>
        {
            context.MessageId = eventId;
            context.Headers.Set(ConsumeLogScope.WebhookSourceHeader, "github");
        });

        var line = await _recorder.LineAsync("probe consumed");
        Assert.Equal(line["ConversationId"], line["CorrelationId"]);
        Assert.Equal(eventId, line["EventId"]);
        Assert.Equal("github", line["Source"]);
    }

    /// <summary>Keeps, per line written, the properties of every scope open at the time.</summary>
    private sealed class ScopeRecorder : ILoggerProvider, ISupportExternalScope, ILogger
    {
        private readonly ConcurrentQueue<(string Message, Dictionary<string, object?> Scope)> _lines = new();
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => _scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scope = new Dictionary<string, object?>();
            _scopes.ForEachScope(
                (value, properties) =>
                {
                    if (value is IEnumerable<KeyValuePair<string, object?>> pairs)
                    {
                        foreach (var (key, item) in pairs)
                        {
                            properties[key] = item;
                        }
                    }
                },
                scope);
            _lines.Enqueue((formatter(state, exception), scope));
        }

        public async Task<Dictionary<string, object?>> LineAsync(string message)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline)
            {
                if (_lines.FirstOrDefault(x => x.Message == message) is { Scope: { } scope })
                {
                    return scope;
                }

                await Task.Delay(20);
            }

            throw new TimeoutException($"No line '{message}' was written.");
        }

        public void Dispose()
        {
        }
    }
}
