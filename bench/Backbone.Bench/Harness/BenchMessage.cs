using System.Buffers.Binary;

namespace EventBackbone.Bench.Harness;

/// <summary>
/// The message every contender carries. <see cref="SentTimestamp"/> is a <see cref="System.Diagnostics.Stopwatch"/>
/// timestamp taken in this process, so publisher and consumer read the same clock.
/// </summary>
/// <param name="MessageId">Unique per message: what a durable consumer deduplicates on.</param>
/// <param name="PhaseId">Which measurement phase sent it: a message from an earlier phase is counted as a stray.</param>
/// <param name="Sequence">0..N-1 within the phase: how losses and duplicates are counted.</param>
/// <param name="SentTimestamp">When the message was due to be sent (see bench/README.md on coordinated omission).</param>
public sealed record BenchMessage(Guid MessageId, Guid PhaseId, int Sequence, long SentTimestamp)
{
    public const int EncodedLength = 16 + 16 + 4 + 8;

    /// <summary>A fixed 44-byte binary body for the contenders without a serializer, so they pay no JSON cost.</summary>
    public byte[] Encode()
    {
        var buffer = new byte[EncodedLength];
        MessageId.TryWriteBytes(buffer.AsSpan(0, 16));
        PhaseId.TryWriteBytes(buffer.AsSpan(16, 16));
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(32, 4), Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(36, 8), SentTimestamp);
        return buffer;
    }

    public static BenchMessage Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length != EncodedLength)
        {
            throw new FormatException($"A bench message is {EncodedLength} bytes, not {body.Length}.");
        }

        return new BenchMessage(
            new Guid(body[..16]),
            new Guid(body.Slice(16, 16)),
            BinaryPrimitives.ReadInt32LittleEndian(body.Slice(32, 4)),
            BinaryPrimitives.ReadInt64LittleEndian(body.Slice(36, 8)));
    }
}
