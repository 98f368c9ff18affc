using EventBackbone.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace EventBackbone.Messaging.Probe;

public sealed class SentRecord
{
    public int Sequence { get; set; }

    public Guid MessageId { get; set; }
}

public sealed class Counter
{
    public required string Name { get; set; }

    public long Value { get; set; }
}

/// <summary>The probe's own service database: what it committed, what it counted, and the outbox/inbox tables.</summary>
public sealed class ProbeDbContext(DbContextOptions<ProbeDbContext> options) : DbContext(options)
{
    public DbSet<SentRecord> SentLog => Set<SentRecord>();

    public DbSet<Counter> Counters => Set<Counter>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddBackboneMessaging();
        modelBuilder.Entity<SentRecord>().ToTable("sent_log").HasKey(x => x.Sequence);
        modelBuilder.Entity<SentRecord>().Property(x => x.Sequence).ValueGeneratedNever();
        modelBuilder.Entity<Counter>().ToTable("counters").HasKey(x => x.Name);
    }

    /// <summary>Deterministic, so the test knows the id of every message the probe may have sent.</summary>
    public static Guid IdFor(int sequence)
    {
        var bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes, sequence);
        bytes[15] = 0x5A;
        return new Guid(bytes);
    }
}
