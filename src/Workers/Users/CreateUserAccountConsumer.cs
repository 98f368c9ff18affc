using System.Net.Mail;
using EventBackbone.Contracts.Users;
using EventBackbone.Workers.Persistence;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventBackbone.Workers.Users;

/// <summary>
/// Creates the account for a signup, or answers why not. A taken address is an answer (<see cref="UserAccountRejected"/>),
/// not an exception: an exception would be retried, redelivered and dead-lettered for a request that can never succeed.
/// </summary>
public sealed partial class CreateUserAccountConsumer(WorkersDbContext db, TimeProvider clock, ILogger<CreateUserAccountConsumer> logger)
    : IConsumer<CreateUserAccount>
{
    public const string EmailTaken = "email-taken";
    public const string EmailInvalid = "email-invalid";

    public async Task Consume(ConsumeContext<CreateUserAccount> context)
    {
        var command = context.Message;
        var email = command.Email.Trim();
        if (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email)
        {
            await RejectAsync(context, EmailInvalid);
            return;
        }

        var normalized = email.ToLowerInvariant();
        var existing = await db.UserAccounts.AsNoTracking()
            .Where(x => x.SignupId == command.SignupId || x.NormalizedEmail == normalized)
            .ToListAsync(context.CancellationToken);
        if (existing.FirstOrDefault(x => x.SignupId == command.SignupId) is { } mine)
        {
            // The same signup asking again (a saga retry): the answer it should have had.
            await context.Publish(new UserAccountCreated(command.SignupId, mine.UserId, mine.Email, mine.CreatedAt));
            return;
        }

        if (existing.Count > 0)
        {
            await RejectAsync(context, EmailTaken);
            return;
        }

        var account = new UserAccount
        {
            UserId = NewId.NextGuid(),
            SignupId = command.SignupId,
            Email = email,
            NormalizedEmail = normalized,
            DisplayName = command.DisplayName,
            CreatedAt = clock.GetUtcNow(),
        };
        db.UserAccounts.Add(account);
        try
        {
            await db.SaveChangesAsync(context.CancellationToken);
        }
        catch (DbUpdateException race) when (race.InnerException is PostgresException
        {
            SqlState: PostgresErrorCodes.UniqueViolation,
            ConstraintName: WorkersDbContext.UserEmailIndex,
        })
        {
            // Another signup for the same address committed between our check and our insert. EF Core rolled back to
            // its savepoint, so the inbox transaction is still usable for the answer.
            db.ChangeTracker.Clear();
            await RejectAsync(context, EmailTaken);
            return;
        }

        LogCreated(logger, account.UserId, command.SignupId);
        await context.Publish(new UserAccountCreated(command.SignupId, account.UserId, account.Email, account.CreatedAt));
    }

    private async Task RejectAsync(ConsumeContext<CreateUserAccount> context, string reason)
    {
        LogRejected(logger, context.Message.SignupId, reason);
        await context.Publish(new UserAccountRejected(context.Message.SignupId, context.Message.Email, reason, clock.GetUtcNow()));
    }

    [LoggerMessage(LogLevel.Information, "Created user account {UserId} for signup {SignupId}")]
    private static partial void LogCreated(ILogger logger, Guid userId, Guid signupId);

    [LoggerMessage(LogLevel.Information, "Rejected the account for signup {SignupId}: {Reason}")]
    private static partial void LogRejected(ILogger logger, Guid signupId, string reason);
}
