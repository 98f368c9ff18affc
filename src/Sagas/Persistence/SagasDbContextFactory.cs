using EventBackbone.Messaging.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EventBackbone.Sagas.Persistence;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the host or reaching a database.</summary>
internal sealed class SagasDbContextFactory : IDesignTimeDbContextFactory<SagasDbContext>
{
    public SagasDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<SagasDbContext>();
        ServiceDatabase.UsePostgres(options, "Host=127.0.0.1;Database=backbone_sagas");
        return new SagasDbContext(options.Options);
    }
}
