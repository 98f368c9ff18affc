using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EventBackbone.TestInfrastructure;

/// <summary>One span as a collector received it over OTLP.</summary>
public sealed record CollectedSpan(string Service, string TraceId, string SpanId, string? ParentSpanId, string Name, int Kind);

/// <summary>
/// A minimal OpenTelemetry collector for end-to-end tests: OTLP over HTTP (protobuf) on a free loopback port, keeping
/// every span it receives. Hosts export to it through the standard <c>OTEL_EXPORTER_OTLP_*</c> variables
/// (<see cref="HostSettings"/>), so what is tested is the exporter configuration production uses.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<CollectedSpan> _spans = new();
    private readonly Task _receiving;

    public OtlpCollector()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/");
        }

        _listener.Prefixes.Add(Endpoint.ToString());
        _listener.Start();
        _receiving = Task.Run(ReceiveAsync);
    }

    public Uri Endpoint { get; }

    public IReadOnlyCollection<CollectedSpan> Spans => [.. _spans];

    /// <summary>OTLP over HTTP to this collector, exported every 200 ms rather than every 5 s.</summary>
    public IReadOnlyDictionary<string, string> HostSettings() => new Dictionary<string, string>
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint.ToString().TrimEnd('/'),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
    };

    private async Task ReceiveAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception stopped) when (stopped is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (context.Request.Url?.AbsolutePath == "/v1/traces")
            {
                foreach (var span in ParseTraces(body.ToArray()))
                {
                    _spans.Enqueue(span);
                }
            }

            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    /// <summary>ExportTraceServiceRequest → resource_spans(1) → {resource(1) → attributes(1), scope_spans(2) → spans(2)}.</summary>
    private static IEnumerable<CollectedSpan> ParseTraces(byte[] request)
    {
        foreach (var resourceSpans in Fields(request).Where(x => x.Number == 1))
        {
            var fields = Fields(resourceSpans.Bytes).ToList();
            var service = fields.Where(x => x.Number == 1).SelectMany(resource => Fields(resource.Bytes).Where(x => x.Number == 1))
                .Select(attribute => Fields(attribute.Bytes).ToList())
                .Where(kv => kv.Any(x => x.Number == 1 && Text(x.Bytes) == "service.name"))
                .Select(kv => kv.Where(x => x.Number == 2).SelectMany(value => Fields(value.Bytes)).Where(x => x.Number == 1).Select(x => Text(x.Bytes)).FirstOrDefault())
                .FirstOrDefault() ?? "unknown";
            foreach (var scopeSpans in fields.Where(x => x.Number == 2))
            {
                foreach (var span in Fields(scopeSpans.Bytes).Where(x => x.Number == 2))
                {
                    var spanFields = Fields(span.Bytes).ToList();
                    ReadOnlyMemory<byte>? Field(int number) => spanFields.FirstOrDefault(x => x.Number == number) is { Number: > 0 } found ? found.Bytes : null;
                    var parent = Field(4);
                    yield return new CollectedSpan(
                        service,
                        Convert.ToHexStringLower(Field(1)!.Value.Span),
                        Convert.ToHexStringLower(Field(2)!.Value.Span),
                        parent is { Length: > 0 } p ? Convert.ToHexStringLower(p.Span) : null,
                        Text(Field(5) ?? ReadOnlyMemory<byte>.Empty),
                        (int)(spanFields.FirstOrDefault(x => x.Number == 6).Varint));
                }
            }
        }
    }

    private static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    /// <summary>The protobuf wire format, as far as spans need it: varints, fixed 32/64 and length-delimited fields.</summary>
    private static IEnumerable<(int Number, ReadOnlyMemory<byte> Bytes, ulong Varint)> Fields(ReadOnlyMemory<byte> message)
    {
        var position = 0;
        while (position < message.Length)
        {
            var key = ReadVarint(message.Span, ref position);
            var number = (int)(key >> 3);
            switch ((int)(key & 7))
            {
                case 0:
                    yield return (number, ReadOnlyMemory<byte>.Empty, ReadVarint(message.Span, ref position));
                    break;
                case 1:
                    yield return (number, message.Slice(position, 8), 0);
                    position += 8;
                    break;
                case 2:
                    var length = (int)ReadVarint(message.Span, ref position);
                    yield return (number, message.Slice(position, length), 0);
                    position += length;
                    break;
                case 5:
                    yield return (number, message.Slice(position, 4), 0);
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type in field {number}.");
            }
        }
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var next = data[position++];
            value |= (ulong)(next & 0x7F) << shift;
            if ((next & 0x80) == 0)
            {
                return value;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _receiving;
    }
}
