using Microsoft.Net.Http.Headers;

namespace EventBackbone.Ingestion.Api.Webhooks;

internal static class MediaTypes
{
    /// <summary><c>application/json</c> or any <c>+json</c> structured syntax suffix (RFC 6839), parameters allowed.</summary>
    public static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.HasValue
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Value!.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
