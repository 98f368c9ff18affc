using EventBackbone.Contracts.Code;
using EventBackbone.Contracts.Notifications;
using EventBackbone.Contracts.Payments;
using EventBackbone.Contracts.Signups;
using EventBackbone.Contracts.Users;
using EventBackbone.Contracts.Webhooks;

namespace EventBackbone.Ingestion.Api.AsyncApi;

/// <summary>
/// Who puts which contract on the bus and which queue takes it, as the hosts' code does it. Written here, not read
/// from the hosts: the edge references no other host. Each entry names the code it mirrors; a contract missing from
/// this table makes the generator throw, so a new contract cannot reach docs/asyncapi.json undescribed.
/// </summary>
internal static class BusTopology
{
    /// <summary>Published (to the contract's own fanout exchange) by each host.</summary>
    public static readonly IReadOnlyList<(string Host, Type Contract, string Where)> Publishes =
    [
        ("ingestion", typeof(WebhookReceived), "Ingestion.Api Webhooks/WebhookRecorder: every accepted webhook"),
        ("ingestion", typeof(SignupRequested), "Ingestion.Api command request-signup"),
        ("ingestion", typeof(EmailVerified), "Ingestion.Api command verify-email"),
        ("ingestion", typeof(PaymentReceived), "Ingestion.Api command publish-event (Backbone:Ingestion:Commands:Publishable)"),
        ("ingestion", typeof(CodePushed), "Ingestion.Api command publish-event (Backbone:Ingestion:Commands:Publishable)"),
        ("workers", typeof(UserAccountCreated), "Workers Users/CreateUserAccountConsumer"),
        ("workers", typeof(UserAccountRejected), "Workers Users/CreateUserAccountConsumer"),
        ("workers", typeof(NotificationSent), "Workers Notifications/SendNotificationConsumer"),
        ("workers", typeof(NotificationFailed), "Workers Notifications/SendNotificationConsumer"),
        ("workers", typeof(PaymentReceived), "Workers Integrations/WebhookTranslationConsumer (a Stripe webhook)"),
        ("workers", typeof(CodePushed), "Workers Integrations/WebhookTranslationConsumer (a GitHub push webhook)"),
        ("sagas", typeof(SignupCompleted), "Sagas Signups/SignupStateMachine"),
        ("sagas", typeof(SignupRejected), "Sagas Signups/SignupStateMachine"),
        ("sagas", typeof(SignupExpired), "Sagas Signups/SignupStateMachine"),
    ];

    /// <summary>
    /// Sent by a host straight to a receive endpoint's exchange (<c>exchange:&lt;queue&gt;</c>, bound to the queue of
    /// the same name), not published.
    /// </summary>
    public static readonly IReadOnlyList<(string Host, string Queue, Type Contract, string Where)> Sends =
    [
        ("sagas", "create-user-account", typeof(CreateUserAccount), "Sagas SignupStateMachine.CreateUserAccountQueue"),
        ("sagas", "send-notification", typeof(SendNotification), "Sagas SignupStateMachine.SendNotificationQueue"),
        ("sagas", "signup-state", typeof(VerificationTimeoutExpired), "Sagas SignupStateMachine's scheduled timeout, sent to its own endpoint"),
    ];

    /// <summary>
    /// Each host's receive endpoints: the queue (and its exchange, bound to every consumed contract's exchange) and what
    /// its consumers take. Names from the consumer and saga definitions, or the kebab-case consumer name.
    /// </summary>
    public static readonly IReadOnlyList<(string Host, string Queue, Type[] Contracts, string Where)> Receives =
    [
        ("workers", "webhook-received", [typeof(WebhookReceived)], "Workers Webhooks/WebhookReceivedConsumer (module Webhooks)"),
        ("workers", "create-user-account", [typeof(CreateUserAccount)], "Workers Users/CreateUserAccountConsumerDefinition (module Users)"),
        ("workers", "send-notification", [typeof(SendNotification)], "Workers Notifications/SendNotificationConsumerDefinition (module Notifications)"),
        ("workers", "integrations-webhook-received", [typeof(WebhookReceived)], "Workers Integrations/WebhookTranslationConsumerDefinition (module Integrations)"),
        ("workers", "reporting-signup-funnel",
            [typeof(SignupRequested), typeof(UserAccountCreated), typeof(NotificationSent), typeof(SignupCompleted), typeof(SignupExpired), typeof(SignupRejected)],
            "Workers Reporting/SignupFunnelConsumerDefinition (module Reporting)"),
        ("workers", "reporting-webhook-volume", [typeof(WebhookReceived)], "Workers Reporting/WebhookVolumeConsumerDefinition (module Reporting)"),
        ("sagas", "signup-state",
            [typeof(SignupRequested), typeof(UserAccountCreated), typeof(UserAccountRejected), typeof(NotificationSent), typeof(NotificationFailed), typeof(EmailVerified), typeof(VerificationTimeoutExpired)],
            "Sagas Signups/SignupStateDefinition"),
    ];
}
