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
            while ((read = await ReadAsync(request, chunk, cancellationToken)) > 0)
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

    /// <summary>
    /// Kestrel reports most malformed bodies as a BadHttpRequestException, but a chunk size that overflows as a plain
    /// IOException: that is the client's fault too, and must be a 400, not a 500.
    /// </summary>
    private static async Task<int> ReadAsync(HttpRequest request, byte[] chunk, CancellationToken cancellationToken)
    {
        try
        {
            return await request.Body.ReadAsync(chunk, cancellationToken);
        }
        catch (IOException malformed) when (malformed is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            throw new BadHttpRequestException("The request body is malformed.", StatusCodes.Status400BadRequest, malformed);
        }
    }
}
