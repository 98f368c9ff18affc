using System.Diagnostics;
using EventBackbone.Messaging.Probe;
using EventBackbone.TestInfrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EventBackbone.Messaging.Durability.Tests;

public sealed class OutboxEnvelopeSpecs(ProbeInfrastructure infrastructure) : IClassFixture<ProbeInfrastructure>, IDisposable
{
    private static readonly ActivitySource TestSource = new("EventBackbone.Tests");

    // Sampling every activity, as an OpenTelemetry exporter would; without a listener no trace context is created.
    private readonly ActivityListener _listener = new()
    {
        ShouldListenTo = source => source.Name is "MassTransit" or "EventBackbone.Tests",
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    public void Dispose()
    {
        _listener.Dispose();
    }

    [Fact]
    public async Task Message_id_correlation_conversation_headers_and_trace_survive_the_outbox_hop()
    {
        ActivitySource.AddActivityListener(_listener);
        var received = new ReceivedMessages();
        using var receiver = await ProbeHosts.StartReceiverAsync(infrastructure, received);
        using var host = await ProbeHosts.StartServiceAsync(infrastructure);
        var id = ProbeDbContext.IdFor(7);
        var correlationId = NewId.NextGuid();
        var conversationId = NewId.NextGuid();

        string traceId;
        using (var request = TestSource.StartActivity("http request"))
        {
            traceId = request!.TraceId.ToString();
            await using var scope = host.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<IPublishEndpoint>().Publish(new ProbeMessage(id, 7), context =>
            {
                context.MessageId = id;
                context.CorrelationId = correlationId;
                context.ConversationId = conversationId;
                context.Headers.Set("X-Backbone-Test", "kept");
            });
            await scope.ServiceProvider.GetRequiredService<ProbeDbContext>().SaveChangesAsync();
        }

        await Eventually.HoldsAsync(
            () => Task.FromResult(received.Envelopes.ContainsKey(id)),
            TimeSpan.FromSeconds(30),
            () => "The message never arrived.");
        var envelope = received.Envelopes[id];
        Assert.Equal(correlationId, envelope.CorrelationId);
        Assert.Equal(conversationId, envelope.ConversationId);
        Assert.Equal("kept", envelope.TestHeader);
        Assert.Equal(traceId, envelope.TraceId);
        await host.StopAsync();
    }
}
