using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace EventBackbone.Ingestion.Api.Webhooks;

internal static class RequestBody
{
    private const int FirstBufferBytes = 4096;

    /// <summary>
    /// Reads at most <paramref name="maxBytes"/> bytes; null when the body is larger. The limit holds whether or not
    /// the sender declared a Content-Length, so a chunked or lying sender cannot make us buffer an unbounded body.
    /// </summary>
    public static async Task<byte[]?> ReadBoundedAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        using var body = await ReadPooledAsync(request, maxBytes, cancellationToken);
        return body?.Memory.ToArray();
    }

    /// <summary>
    /// As <see cref="ReadBoundedAsync"/>, into pooled memory that grows with what actually arrived: the declared
    /// Content-Length is only a claim. Allocating it up front let 600 connections that declared 1 MiB and sent one byte
    /// exhaust a 384 MiB heap (OutOfMemoryException in MemoryStream..ctor, then the process aborted).
    /// </summary>
    public static async Task<PooledBody?> ReadPooledAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        var body = new PooledBody(Math.Min(FirstBufferBytes, maxBytes));
        try
        {
            while (true)
            {
                if (body.Length == maxBytes)
                {
                    // Full: one more byte means too large (a buffer of maxBytes + 1 would double a pooled array).
                    var probe = new byte[1];
                    if (await ReadAsync(request, probe, cancellationToken) > 0)
                    {
                        body.Dispose();
                        return null;
                    }

                    return body;
                }

                var read = await ReadAsync(request, body.FreeSpace(maxBytes), cancellationToken);
                if (read == 0)
                {
                    return body;
                }

                body.Advance(read);
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Kestrel reports most malformed bodies as a BadHttpRequestException, but a chunk size that overflows as a plain
    /// IOException: that is the client's fault too, and must be a 400, not a 500.
    /// </summary>
    private static async Task<int> ReadAsync(HttpRequest request, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await request.Body.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException malformed) when (malformed is not BadHttpRequestException && !cancellationToken.IsCancellationRequested)
        {
            throw new BadHttpRequestException("The request body is malformed.", StatusCodes.Status400BadRequest, malformed);
        }
    }
}

/// <summary>
/// A request body in an array rented from the shared pool: dispose it when the request is done with it. What outlives
/// the request (the receipt, the outbox row) is a copy of exactly <see cref="Memory"/>, never the pooled array.
/// </summary>
internal sealed class PooledBody : IDisposable
{
    private byte[] _buffer;

    public PooledBody(int firstBytes) => _buffer = ArrayPool<byte>.Shared.Rent(firstBytes);

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>Room for the next read, growing the buffer (doubling, up to <paramref name="maxBytes"/>) when it is full.</summary>
    public Memory<byte> FreeSpace(int maxBytes)
    {
        var capacity = Math.Min(_buffer.Length, maxBytes);
        if (Length == capacity)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(2 * capacity, 1), maxBytes));
            _buffer.AsSpan(0, Length).CopyTo(larger);
            Return(_buffer, Length);
            _buffer = larger;
            capacity = Math.Min(_buffer.Length, maxBytes);
        }

        return _buffer.AsMemory(Length, capacity - Length);
    }

    public void Advance(int count) => Length += count;

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            Return(buffer, Length);
        }
    }

    /// <summary>Cleared first: the shared pool hands the array to unrelated code, and a webhook body is the sender's data.</summary>
    private static void Return(byte[] buffer, int used)
    {
        buffer.AsSpan(0, used).Clear();
        ArrayPool<byte>.Shared.Return(buffer);
    }
}
