using EventBackbone.Messaging.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EventBackbone.DeadLetters.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the host or reaching a database.</summary>
internal sealed class DeadLettersDbContextFactory : IDesignTimeDbContextFactory<DeadLettersDbContext>
{
    public DeadLettersDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<DeadLettersDbContext>();
        ServiceDatabase.UsePostgres(options, "Host=127.0.0.1;Database=backbone_deadletters");
        return new DeadLettersDbContext(options.Options);
    }
}
