namespace EventBackbone.Messaging.Probe;

/// <summary>The message the durability tests count: its id is derived from its sequence number.</summary>
public record ProbeMessage(Guid Id, int Sequence);

/// <summary>
/// One transaction's worth of messages, for the write paths that publish from a consumer: the relay consumer publishes
/// <see cref="Messages"/> in order inside its inbox transaction, then commits or, when <see cref="Commit"/> is false,
/// throws so that the transaction rolls back.
/// </summary>
public record ProbeTransaction(int Number, IReadOnlyList<ProbeMessage> Messages, bool Commit)
{
    /// <summary>Transaction <paramref name="number"/> of <paramref name="size"/> messages, sequences number × size onwards.</summary>
    public static ProbeTransaction Create(int number, int size, bool commit) =>
        new(number, [.. Enumerable.Range(number * size, size).Select(x => new ProbeMessage(ProbeDbContext.IdFor(x), x))], commit);

    /// <summary>Its own id space (high byte 0x7A), so a transaction's id never collides with a message's.</summary>
    public Guid MessageId
    {
        get
        {
            var bytes = ProbeDbContext.IdFor(Number).ToByteArray();
            bytes[15] = 0x7A;
            return new Guid(bytes);
        }
    }
}

/// <summary>
/// Two messages scheduled <see cref="Delay"/> from the moment the write path schedules them (for the consumer paths,
/// when the relay consumes this, however late that is on a loaded machine) to <see cref="Destination"/>, the second
/// cancelled in the same unit of work. Arrangement n uses ids 2n+1 (kept) and 2n+2 (cancelled), so a test that has to arrange this again is not
/// confused by the messages of an earlier arrangement.
/// </summary>
public record ProbeSchedule(Uri Destination, TimeSpan Delay, int Arrangement)
{
    public ProbeMessage Kept => new(ProbeDbContext.IdFor((2 * Arrangement) + 1), (2 * Arrangement) + 1);

    public ProbeMessage Cancelled => new(ProbeDbContext.IdFor((2 * Arrangement) + 2), (2 * Arrangement) + 2);
}

/// <summary>Thrown by a write on purpose, to roll back its transaction: the tests check none of its messages arrive.</summary>
public sealed class ProbeRollbackException(int transaction) : Exception($"Transaction {transaction} rolls back on purpose.");
