using System.Net.Mime;
using System.Text.Json;
using EventBackbone.Embedded.DeadLetters;
using EventBackbone.Ingestion.Api.Commands;
using EventBackbone.ServiceDefaults.Authentication;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EventBackbone.Embedded.Demo;

/// <summary>
/// Embedded mode's documented way to produce a dead letter: <c>POST /api/v1/demo/malformed-signup</c> (scope
/// <c>commands:signup</c>) puts on the signup workflow's queue a <c>SignupRequested</c> whose <c>signupId</c> is not a
/// GUID — the malformed message operators meet in production. The edge's own commands validate their input, so this is
/// the only way to send one; it exists only in this host, never in the distributed ones.
/// </summary>
internal static class MalformedSignupDemo
{
    private const string SignupQueue = "signup-state";
    private const string SignupRequestedUrn = "urn:message:EventBackbone.Contracts.Signups:SignupRequested";

    public static WebApplication MapDemoEndpoints(this WebApplication app)
    {
        app.MapPost("/api/v1/demo/malformed-signup", async (ISendEndpointProvider endpoints, TimeProvider clock, CancellationToken cancellationToken) =>
        {
            var messageId = NewId.NextGuid();
            var envelope = new
            {
                messageId,
                messageType = new[] { SignupRequestedUrn },
                destinationAddress = $"loopback://localhost/{SignupQueue}",
                sentTime = clock.GetUtcNow(),
                message = new { signupId = "not-a-guid", email = "newcomer@example.com", displayName = "Newcomer", requestedAt = clock.GetUtcNow() },
                headers = new { },
            };
            var body = JsonSerializer.SerializeToUtf8Bytes(envelope, JsonSerializerOptions.Web);
            var endpoint = await endpoints.GetSendEndpoint(new Uri($"queue:{SignupQueue}"));
            await endpoint.Send(new SerializedMessageBody(), Pipe.Execute<SendContext>(context =>
            {
                var contentType = new ContentType("application/vnd.masstransit+json");
                context.MessageId = messageId;
                context.SupportedMessageTypes = [SignupRequestedUrn];
                context.ContentType = contentType;
                context.Serializer = new InMemoryReplayer.StoredBody(contentType, body);
            }), cancellationToken);
            return Results.Accepted(value: new { messageId, queue = SignupQueue, note = "Fails to deserialize (signupId is not a GUID); see GET /api/v1/dead-letters." });
        }).RequireScope(CommandCatalog.SignupScope).WithTags("Demo").WithName("SendMalformedSignup");
        return app;
    }
}
