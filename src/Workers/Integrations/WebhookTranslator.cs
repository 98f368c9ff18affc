using System.Text.Json;
using EventBackbone.Contracts.Code;
using EventBackbone.Contracts.Payments;
using EventBackbone.Contracts.Signups;
using EventBackbone.Contracts.Webhooks;

namespace EventBackbone.Workers.Integrations;

/// <summary>The outcome of translating one webhook: a domain event, or why there is none.</summary>
public sealed record Translation(object? DomainEvent, string Outcome, string? Detail, string? EventType)
{
    public static Translation Ignored(string? eventType, string detail) => new(null, "ignored", detail, eventType);

    public static Translation Malformed(string? eventType, string detail) => new(null, "malformed", detail, eventType);
}

/// <summary>
/// Turns accepted webhooks into domain events: GitHub <c>push</c> → <see cref="CodePushed"/>; Stripe
/// <c>checkout.session.completed</c> and <c>invoice.paid</c> → <see cref="PaymentReceived"/>; a signup form's
/// <c>signup.requested</c> (<c>{"type":…,"data":{"email":…,"displayName":…}}</c>) → <see cref="SignupRequested"/>. The
/// domain event's id is the webhook's event id, so a translation repeated for any reason names the same push, payment
/// or signup.
/// </summary>
public static class WebhookTranslator
{
    public static Translation Translate(WebhookReceived webhook, IntegrationKind kind)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(webhook.Payload).RootElement;
        }
        catch (JsonException)
        {
            return Translation.Malformed(webhook.EventType, "The payload is not JSON.");
        }

        try
        {
            return kind switch
            {
                IntegrationKind.GitHub => GitHub(webhook, root),
                IntegrationKind.Stripe => Stripe(webhook, root),
                IntegrationKind.Signups => Signup(webhook, root),
                _ => Translation.Ignored(webhook.EventType, $"No integration is configured for source '{webhook.Source}'."),
            };
        }
        catch (Exception missing) when (missing is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // A payload without the fields its type promises: recorded for a person to look at, never retried.
            return Translation.Malformed(webhook.EventType, missing.Message);
        }
    }

    private static Translation GitHub(WebhookReceived webhook, JsonElement root)
    {
        if (webhook.EventType != "push")
        {
            return Translation.Ignored(webhook.EventType, $"GitHub event '{webhook.EventType}' is not translated.");
        }

        var pushed = new CodePushed(
            webhook.EventId,
            root.GetProperty("repository").GetProperty("full_name").GetString()!,
            root.GetProperty("ref").GetString()!,
            root.TryGetProperty("after", out var after) ? after.GetString() : null,
            root.TryGetProperty("pusher", out var pusher) && pusher.TryGetProperty("name", out var name) ? name.GetString() : null,
            webhook.ReceivedAt);
        return new Translation(pushed, "translated", null, webhook.EventType);
    }

    /// <summary>The address is checked where accounts are made (Users rejects an invalid one); here only its presence.</summary>
    private static Translation Signup(WebhookReceived webhook, JsonElement root)
    {
        var type = root.GetProperty("type").GetString();
        if (type != "signup.requested")
        {
            return Translation.Ignored(type, $"Signup event '{type}' is not translated.");
        }

        var data = root.GetProperty("data");
        var email = data.GetProperty("email").GetString()?.Trim();
        if (string.IsNullOrEmpty(email))
        {
            return Translation.Malformed(type, "The signup has no email address.");
        }

        var displayName = data.TryGetProperty("displayName", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;
        return new Translation(new SignupRequested(webhook.EventId, email, displayName, webhook.ReceivedAt), "translated", null, type);
    }

    private static Translation Stripe(WebhookReceived webhook, JsonElement root)
    {
        // Stripe names the event type in the body, not in a header.
        var type = root.GetProperty("type").GetString();
        var paid = root.GetProperty("data").GetProperty("object");
        long? amount = type switch
        {
            "checkout.session.completed" => paid.GetProperty("amount_total").GetInt64(),
            "invoice.paid" => paid.GetProperty("amount_paid").GetInt64(),
            _ => null,
        };
        if (amount is null)
        {
            return Translation.Ignored(type, $"Stripe event '{type}' is not translated.");
        }

        var paidAt = root.TryGetProperty("created", out var created) && created.ValueKind == JsonValueKind.Number
            ? DateTimeOffset.FromUnixTimeSeconds(created.GetInt64())
            : webhook.ReceivedAt;
        var payment = new PaymentReceived(
            webhook.EventId, "stripe", paid.GetProperty("id").GetString()!, amount.Value, paid.GetProperty("currency").GetString()!, paidAt);
        return new Translation(payment, "translated", null, type);
    }
}
