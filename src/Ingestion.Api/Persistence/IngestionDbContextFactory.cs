using EventBackbone.Messaging.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EventBackbone.Ingestion.Api.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the host or reaching a database.</summary>
internal sealed class IngestionDbContextFactory : IDesignTimeDbContextFactory<IngestionDbContext>
{
    public IngestionDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<IngestionDbContext>();
        ServiceDatabase.UsePostgres(options, "Host=127.0.0.1;Database=backbone_ingestion");
        return new IngestionDbContext(options.Options);
    }
}
