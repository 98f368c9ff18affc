using System.Net.Http.Headers;
using System.Text;

namespace EventBackbone.TestInfrastructure;

/// <summary>
/// A throwaway RabbitMQ virtual host. Test classes run in parallel and hosts declare the same queue names, so each
/// fixture gets its own vhost: otherwise one test's consumer steals another test's messages.
/// </summary>
public sealed class RabbitMqVirtualHost : IAsyncDisposable
{
    private readonly HttpClient _management;

    private RabbitMqVirtualHost(HttpClient management, string name)
    {
        _management = management;
        Name = name;
    }

    public string Name { get; }

    public static async Task<RabbitMqVirtualHost> CreateAsync(InfrastructureSettings settings)
    {
        await InfrastructureProbe.EnsureRabbitMqReachableAsync(settings.RabbitHost, settings.RabbitPort);
        var management = ManagementClient(settings);
        var name = $"test-{Guid.NewGuid():N}";
        try
        {
            await Send(management, HttpMethod.Put, $"api/vhosts/{name}", "{}");
            await Send(management, HttpMethod.Put, $"api/permissions/{name}/{Uri.EscapeDataString(settings.RabbitUsername)}",
                """{"configure":".*","write":".*","read":".*"}""");
        }
        catch (HttpRequestException unreachable)
        {
            management.Dispose();
            throw new InfrastructureUnavailableException(
                $"RabbitMQ's management API is unreachable at {settings.RabbitManagementUrl} ({unreachable.Message}). "
                + InfrastructureSettings.StartHint,
                unreachable);
        }

        return new RabbitMqVirtualHost(management, name);
    }

    /// <summary>An HTTP client for the broker's management API, signed in with the test user.</summary>
    public static HttpClient ManagementClient(InfrastructureSettings settings)
    {
        var management = new HttpClient { BaseAddress = settings.RabbitManagementUrl, Timeout = TimeSpan.FromSeconds(15) };
        management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{settings.RabbitUsername}:{settings.RabbitPassword}")));
        return management;
    }

    /// <summary>Messages ready in a queue of this vhost, from the management API (its figures lag by up to 5 s).</summary>
    public async Task<string> GetQueueJsonAsync(string queue)
    {
        using var response = await _management.GetAsync(new Uri($"api/queues/{Name}/{queue}", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Send(_management, HttpMethod.Delete, $"api/vhosts/{Name}", null);
        }
        catch (HttpRequestException)
        {
            // Best effort: a broker that went away with the test leaves nothing worth failing the run for.
        }

        _management.Dispose();
    }

    private static async Task Send(HttpClient client, HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"{method} {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}
