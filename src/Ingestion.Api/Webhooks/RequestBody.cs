using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace EventBackbone.Ingestion.Api.Webhooks;

internal static class RequestBody
{
    /// <summary>
    /// Reads at most <paramref name="maxBytes"/> bytes; null when the body is larger. The limit holds whether or not
    /// the sender declared a Content-Length, so a chunked or lying sender cannot make us buffer an unbounded body.
    /// </summary>
    public static async Task<byte[]?> ReadBoundedAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        using var body = new MemoryStream((int)Math.Min(request.ContentLength ?? 4096, maxBytes));
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (body.Length + read > maxBytes)
                {
                    return null;
                }

                body.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return body.ToArray();
    }
}
