using EventBackbone.Messaging.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EventBackbone.Workers.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the host or reaching a database.</summary>
internal sealed class WorkersDbContextFactory : IDesignTimeDbContextFactory<WorkersDbContext>
{
    public WorkersDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<WorkersDbContext>();
        ServiceDatabase.UsePostgres(options, "Host=127.0.0.1;Database=backbone_workers");
        return new WorkersDbContext(options.Options);
    }
}
