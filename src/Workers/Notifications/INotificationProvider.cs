using EventBackbone.Contracts.Notifications;

namespace EventBackbone.Workers.Notifications;

/// <summary>The external delivery provider.</summary>
public interface INotificationProvider
{
    /// <returns>Null when the provider accepted it; otherwise why it refused it for good (a 4xx: retrying cannot help).</returns>
    /// <exception cref="NotificationProviderUnavailableException">The provider could not be reached or kept failing.</exception>
    Task<string?> SendAsync(SendNotification notification, CancellationToken cancellationToken);
}

/// <summary>Transient: the provider is down, slow or failing; the notification may succeed later.</summary>
public sealed class NotificationProviderUnavailableException : Exception
{
    public NotificationProviderUnavailableException()
    {
    }

    public NotificationProviderUnavailableException(string message)
        : base(message)
    {
    }

    public NotificationProviderUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
