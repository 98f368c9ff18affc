using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EventBackbone.EndToEnd.Tests;

/// <summary>What came back for one hostile request, as seen on the wire.</summary>
/// <param name="Status">The response's status code; null when the server closed the connection without answering.</param>
/// <param name="Head">Status line and headers as sent (for failure messages).</param>
/// <param name="Body">The response body as text (chunk framing left in).</param>
/// <param name="TimedOut">Neither an answer nor a closed connection within the bound: a hang.</param>
public sealed record HostileResponse(int? Status, string Head, string Body, bool TimedOut, TimeSpan Elapsed)
{
    public bool IsServerError => Status is >= 500;

    public bool IsSuccess => Status is >= 200 and < 300;

    public override string ToString() =>
        TimedOut ? $"no answer within {Elapsed.TotalSeconds:F1} s"
        : Status is null ? $"connection closed without an answer after {Elapsed.TotalSeconds:F1} s"
        : $"{Status} after {Elapsed.TotalSeconds:F1} s: {Truncate(Body, 300)}";

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";
}

/// <summary>
/// A deliberately naive HTTP/1.1 client over a raw socket: it sends exactly the bytes it is given — duplicate, invalid
/// and oversized headers, lying lengths, trickled bodies — which HttpClient would refuse or repair. Every request is
/// <c>Connection: close</c>, so the server's answer ends with the connection and nothing is reused between cases.
/// </summary>
public static class HostileHttp
{
    public static readonly TimeSpan DefaultBound = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Builds a request head. <paramref name="headers"/> go out in order, byte for byte (names and values are not
    /// checked); Host and Connection: close are added first.
    /// </summary>
    public static byte[] Head(string method, string target, Uri server, IEnumerable<(string Name, string Value)> headers)
    {
        var head = new StringBuilder();
        head.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        head.Append("Host: ").Append(server.Authority).Append("\r\n");
        head.Append("Connection: close\r\n");
        foreach (var (name, value) in headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("\r\n");
        // Latin-1 maps each char below 256 to one byte, so a test can put any byte into a header (e.g. invalid UTF-8).
        return Encoding.Latin1.GetBytes(head.ToString());
    }

    /// <summary>A complete request: <paramref name="head"/>, then <paramref name="body"/> (if any).</summary>
    /// <param name="from">The loopback address to send from (e.g. 127.0.0.2), so the server sees another client.</param>
    public static Task<HostileResponse> SendAsync(Uri server, byte[] head, byte[]? body = null, TimeSpan? bound = null, IPAddress? from = null) =>
        SendAsync(server, head, body is null ? null : (stream, token) => stream.WriteAsync(body, token).AsTask(), bound, from);

    /// <summary>
    /// Sends <paramref name="head"/>, then lets <paramref name="writeBody"/> write (slowly, chunked, endlessly…) while the
    /// answer is read at the same time: a server that answers early and closes must be seen answering, not as a reset.
    /// <paramref name="stop"/> ends the request early, like the bound (the response then counts as timed out).
    /// </summary>
    public static async Task<HostileResponse> SendAsync(
        Uri server, byte[] head, Func<Stream, CancellationToken, Task>? writeBody, TimeSpan? bound = null, IPAddress? from = null, CancellationToken stop = default)
    {
        var limit = bound ?? DefaultBound;
        var clock = Stopwatch.StartNew();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cancel.CancelAfter(limit);
        using var client = from is null ? new TcpClient() : new TcpClient(new IPEndPoint(from, 0));
        client.NoDelay = true;
        await client.ConnectAsync(server.Host, server.Port, cancel.Token);
        await using var stream = client.GetStream();
        var writing = WriteAsync(stream, head, writeBody, cancel.Token);
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        var timedOut = false;
        try
        {
            while (!IsComplete(received))
            {
                var read = await stream.ReadAsync(buffer, cancel.Token);
                if (read == 0)
                {
                    break;
                }

                received.Write(buffer, 0, read);
            }
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
        }
        catch (IOException)
        {
            // Reset by the server: whatever arrived before is the answer (or there was none).
        }

        await cancel.CancelAsync();
        client.Close();
        await writing;
        return Parse(received.ToArray(), timedOut && !IsComplete(received), clock.Elapsed);
    }

    /// <summary>Write failures are expected: the server may answer and close before it read everything.</summary>
    private static async Task WriteAsync(Stream stream, byte[] head, Func<Stream, CancellationToken, Task>? writeBody, CancellationToken token)
    {
        try
        {
            await stream.WriteAsync(head, token);
            if (writeBody is not null)
            {
                await writeBody(stream, token);
            }

            await stream.FlushAsync(token);
        }
        catch (Exception closed) when (closed is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private static bool IsComplete(MemoryStream received)
    {
        var bytes = received.GetBuffer().AsSpan(0, (int)received.Length);
        var end = bytes.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return false;
        }

        var head = Encoding.Latin1.GetString(bytes[..end]);
        var body = bytes[(end + 4)..];
        if (HeaderValue(head, "Content-Length") is { } length && int.TryParse(length, out var expected))
        {
            return body.Length >= expected;
        }

        if (HeaderValue(head, "Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true)
        {
            return body.EndsWith("0\r\n\r\n"u8);
        }

        // Neither: the body ends when the server closes (Connection: close).
        return false;
    }

    private static HostileResponse Parse(byte[] received, bool timedOut, TimeSpan elapsed)
    {
        var text = Encoding.UTF8.GetString(received);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = end < 0 ? text : text[..end];
        var body = end < 0 ? "" : text[(end + 4)..];
        var statusLine = head.Split("\r\n")[0].Split(' ');
        int? status = statusLine.Length >= 2 && statusLine[0].StartsWith("HTTP/", StringComparison.Ordinal) && int.TryParse(statusLine[1], out var code)
            ? code
            : null;
        return new HostileResponse(status, head, body, timedOut, elapsed);
    }

    private static string? HeaderValue(string head, string name) =>
        head.Split("\r\n").Skip(1)
            .Where(line => line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            .Select(line => line[(name.Length + 1)..].Trim())
            .FirstOrDefault();
}
