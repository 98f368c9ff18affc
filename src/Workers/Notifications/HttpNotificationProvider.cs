using System.Net.Http.Json;
using EventBackbone.Contracts.Notifications;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace EventBackbone.Workers.Notifications;

/// <summary>
/// <c>POST {ProviderUrl}/notifications</c> with the notification id as <c>Idempotency-Key</c>, so the provider delivers
/// once even when we call again after a crash between its answer and our commit. Timeouts, retries with jitter and the
/// circuit breaker live in the HttpClient's resilience pipeline (<see cref="NotificationsModule"/>).
/// </summary>
public sealed class HttpNotificationProvider(HttpClient http) : INotificationProvider
{
    public async Task<string?> SendAsync(SendNotification notification, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("notifications", UriKind.Relative))
        {
            Content = JsonContent.Create(new
            {
                notification.Channel,
                notification.Template,
                notification.Recipient,
                notification.Data,
            }),
        };
        request.Headers.Add("Idempotency-Key", notification.NotificationId.ToString());
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (Exception unavailable) when (unavailable is HttpRequestException or TimeoutRejectedException or BrokenCircuitException
            || (unavailable is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new NotificationProviderUnavailableException($"The notification provider is unavailable: {unavailable.Message}", unavailable);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                return null;
            }

            // What the retry pipeline treats as transient (5xx, 408, 429) and still failed: try again later.
            if (status >= 500 || status is 408 or 429)
            {
                throw new NotificationProviderUnavailableException($"The notification provider kept answering {status}.");
            }

            return $"The provider refused it: {status} {response.ReasonPhrase}";
        }
    }
}
