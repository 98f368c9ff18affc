using EventBackbone.Contracts.Webhooks;

namespace EventBackbone.Ingestion.Api.Tests;

/// <summary>
/// The EventBackbone.Contracts package is taken by other teams' services: a dependency added to it would become theirs
/// (and could clash with their MassTransit or serializer versions).
/// </summary>
public sealed class ContractsPackageSpecs
{
    [Fact]
    public void The_contracts_assembly_references_nothing_but_the_framework()
    {
        var references = typeof(WebhookReceived).Assembly.GetReferencedAssemblies().Select(x => x.Name!).ToList();

        Assert.All(references, name => Assert.True(name.StartsWith("System", StringComparison.Ordinal) || name is "netstandard" or "mscorlib",
            $"EventBackbone.Contracts references {name}; the package must stay dependency-free records."));
    }

    [Fact]
    public void The_contracts_project_has_no_package_or_project_references()
    {
        var project = File.ReadAllText(Path.Combine(Path.GetDirectoryName(AsyncApiDocumentSpecs.CheckedInPath)!, "..", "src", "Contracts", "Contracts.csproj"));

        Assert.DoesNotContain("<PackageReference", project, StringComparison.Ordinal);
        Assert.DoesNotContain("<ProjectReference", project, StringComparison.Ordinal);
    }
}
