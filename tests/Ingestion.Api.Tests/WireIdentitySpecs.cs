using EventBackbone.Ingestion.Api.AsyncApi;
using MassTransit;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>
/// Every contract's wire identity, written out: a renamed, moved or added record changes what other services must
/// publish and consume, so it fails here and is decided in review, not discovered in production as a message no
/// consumer takes (MassTransit moves it to the _skipped queue).
/// </summary>
public sealed class WireIdentitySpecs
{
    private static readonly string[] Pinned =
    [
        "urn:message:EventBackbone.Contracts.Code:CodePushed",
        "urn:message:EventBackbone.Contracts.Notifications:NotificationFailed",
        "urn:message:EventBackbone.Contracts.Notifications:NotificationSent",
        "urn:message:EventBackbone.Contracts.Notifications:SendNotification",
        "urn:message:EventBackbone.Contracts.Payments:PaymentReceived",
        "urn:message:EventBackbone.Contracts.Signups:EmailVerified",
        "urn:message:EventBackbone.Contracts.Signups:SignupCompleted",
        "urn:message:EventBackbone.Contracts.Signups:SignupExpired",
        "urn:message:EventBackbone.Contracts.Signups:SignupRejected",
        "urn:message:EventBackbone.Contracts.Signups:SignupRequested",
        "urn:message:EventBackbone.Contracts.Signups:VerificationTimeoutExpired",
        "urn:message:EventBackbone.Contracts.Users:CreateUserAccount",
        "urn:message:EventBackbone.Contracts.Users:UserAccountCreated",
        "urn:message:EventBackbone.Contracts.Users:UserAccountRejected",
        "urn:message:EventBackbone.Contracts.Webhooks:WebhookReceived",
    ];

    [Fact]
    public void Every_contract_keeps_the_wire_identity_other_services_use()
    {
        // MassTransit's own computation, not ours: it is what goes into every envelope's messageType.
        var actual = typeof(EventBackbone.Contracts.Webhooks.WebhookReceived).Assembly.GetExportedTypes()
            .Where(type => type is { IsClass: true, IsAbstract: false })
            .Select(MessageUrn.ForTypeString)
            .Order(StringComparer.Ordinal)
            .ToArray();

        var added = actual.Except(Pinned).ToList();
        var gone = Pinned.Except(actual).ToList();
        Assert.True(added.Count == 0 && gone.Count == 0,
            $"The contracts' wire identities changed. New: [{string.Join(", ", added)}]. Gone: [{string.Join(", ", gone)}]. "
            + "A rename or move breaks every service that publishes or consumes the old name: keep the old name, or add the new "
            + "contract beside it; a new contract is added to this list (and docs/asyncapi.json regenerated) on purpose.");
    }

    [Fact]
    public void The_asyncapi_document_names_the_same_identities()
    {
        Assert.Equal(Pinned, AsyncApiDocument.Contracts.Select(AsyncApiDocument.WireIdentity).ToArray());
    }
}
