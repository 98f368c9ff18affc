namespace EventBackbone.Contracts.Payments;

/// <summary>A payment arrived at a payment provider.</summary>
/// <param name="PaymentId">Our id for the payment.</param>
/// <param name="Provider">Where it was paid, e.g. <c>stripe</c>.</param>
/// <param name="ExternalId">The provider's id for it (e.g. Stripe's event or invoice id).</param>
/// <param name="AmountMinor">The amount in the currency's minor unit (cents).</param>
/// <param name="Currency">ISO 4217 code, lowercase as providers send it.</param>
/// <param name="PaidAt">When the provider says it was paid.</param>
public record PaymentReceived(
    Guid PaymentId,
    string Provider,
    string ExternalId,
    long AmountMinor,
    string Currency,
    DateTimeOffset PaidAt);
