using Microsoft.EntityFrameworkCore;

namespace EventBackbone.DeadLetters.Persistence;

/// <summary>The dead-letter service's own database.</summary>
public sealed class DeadLettersDbContext(DbContextOptions<DeadLettersDbContext> options) : DbContext(options)
{
    public DbSet<DeadLetter> DeadLetters => Set<DeadLetter>();

    public DbSet<AuditEntry> Audit => Set<AuditEntry>();

    public DbSet<ReplayLedgerEntry> ReplayLedger => Set<ReplayLedgerEntry>();

    public DbSet<ReplayJob> ReplayJobs => Set<ReplayJob>();

    public DbSet<DeadLetterFailure> Failures => Set<DeadLetterFailure>();

    public DbSet<GroupNote> GroupNotes => Set<GroupNote>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var letter = modelBuilder.Entity<DeadLetter>();
        letter.ToTable("dead_letters");
        letter.HasKey(x => x.MessageId);
        letter.Property(x => x.SourceQueue).HasMaxLength(255);
        letter.Property(x => x.TargetQueue).HasMaxLength(255);
        letter.Property(x => x.Reason).HasMaxLength(16);
        letter.Property(x => x.MessageType).HasMaxLength(500);
        letter.Property(x => x.ExceptionType).HasMaxLength(500);
        letter.Property(x => x.ConsumerType).HasMaxLength(500);
        letter.Property(x => x.Host).HasMaxLength(255);
        letter.Property(x => x.Fingerprint).HasMaxLength(32);
        letter.Property(x => x.ContentType).HasMaxLength(200);
        letter.Property(x => x.Headers).HasColumnType("jsonb");
        letter.Property(x => x.Status).HasMaxLength(16);
        letter.HasIndex(x => x.Fingerprint);
        letter.HasIndex(x => x.LastFailedAt);
        letter.HasIndex(x => x.SourceQueue);

        var failure = modelBuilder.Entity<DeadLetterFailure>();
        failure.ToTable("dead_letter_failures");
        failure.HasKey(x => x.Id);
        failure.Property(x => x.Id).UseIdentityAlwaysColumn();
        failure.Property(x => x.SourceQueue).HasMaxLength(255);
        failure.Property(x => x.ExceptionType).HasMaxLength(500);
        failure.Property(x => x.Host).HasMaxLength(255);
        failure.HasIndex(x => new { x.MessageId, x.FailedAt }).IsUnique();
        // A deleted dead letter takes its history with it.
        failure.HasOne<DeadLetter>().WithMany().HasForeignKey(x => x.MessageId).OnDelete(DeleteBehavior.Cascade);

        var audit = modelBuilder.Entity<AuditEntry>();
        audit.ToTable("dead_letter_audit");
        audit.HasKey(x => x.Id);
        audit.Property(x => x.Id).UseIdentityAlwaysColumn();
        audit.Property(x => x.Actor).HasMaxLength(200);
        audit.Property(x => x.Action).HasMaxLength(32);
        audit.HasIndex(x => x.At);

        var ledger = modelBuilder.Entity<ReplayLedgerEntry>();
        ledger.ToTable("replay_ledger");
        ledger.HasKey(x => x.Id);
        ledger.Property(x => x.Id).UseIdentityAlwaysColumn();
        ledger.Property(x => x.Status).HasMaxLength(16);
        ledger.Property(x => x.RequestedBy).HasMaxLength(200);
        ledger.HasIndex(x => new { x.MessageId, x.FailureCount }).IsUnique();
        // In-doubt resolution looks for pending claims only.
        ledger.HasIndex(x => x.Status).HasFilter("status = 'pending'");

        var job = modelBuilder.Entity<ReplayJob>();
        job.ToTable("replay_jobs");
        job.HasKey(x => x.Id);
        job.Property(x => x.RequestedBy).HasMaxLength(200);
        job.Property(x => x.Status).HasMaxLength(16);
        job.HasIndex(x => x.Status).HasFilter("status = 'running'");
        job.HasIndex(x => new { x.CreatedAt, x.Id });
        job.Property(x => x.IdempotencyKey).HasMaxLength(100);
        // Two clicks of one button race: the second insert fails here instead of starting a second job.
        job.HasIndex(x => new { x.RequestedBy, x.IdempotencyKey }).IsUnique().HasFilter("idempotency_key IS NOT NULL");
        job.HasMany(x => x.Items).WithOne().HasForeignKey(x => x.JobId).OnDelete(DeleteBehavior.Cascade);

        var item = modelBuilder.Entity<ReplayJobItem>();
        item.ToTable("replay_job_items");
        item.HasKey(x => new { x.JobId, x.MessageId });
        item.Property(x => x.Outcome).HasMaxLength(16);
        item.HasIndex(x => new { x.JobId, x.Position });

        var note = modelBuilder.Entity<GroupNote>();
        note.ToTable("group_notes");
        note.HasKey(x => x.Fingerprint);
        note.Property(x => x.Fingerprint).HasMaxLength(32);
        note.Property(x => x.Text).HasMaxLength(GroupNote.MaxText);
        note.Property(x => x.UpdatedBy).HasMaxLength(200);
    }
}
