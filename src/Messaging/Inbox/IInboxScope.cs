namespace EventBackbone.Messaging.Inbox;

/// <summary>A consume running inside the inbox's transaction: scheduling and cancelling join that transaction.</summary>
internal interface IInboxScope
{
    Task CancelScheduledAsync(Guid tokenId, CancellationToken cancellationToken);
}
