using System.Reflection;
using System.Runtime.InteropServices;
using EventBackbone.TestInfrastructure;

namespace EventBackbone.TestSuite.Tests;

/// <summary>
/// <c>bash scripts/test.sh --fast</c> and <c>--tier</c> pick tests by the xunit trait <c>Tier</c>: a test without one
/// would run only in the full run, silently missing from every tier, and a test with two would run in both (a server
/// test in the fast loop fails on every machine without servers). Checked over every test project's built assembly,
/// the way xunit collects traits: the assembly's <c>AssemblyTrait</c>, the test class's <c>Trait</c> (its base
/// classes' too) and the test method's own.
/// </summary>
public sealed class TierSpecs
{
    private const string TierTrait = "Tier";

    /// <summary>The tiers docs/testing.md describes; scripts/test.sh --tier takes these names.</summary>
    private static readonly string[] Tiers = ["Fast", "Integration", "EndToEnd", "Browser", "Faults"];

    [Fact]
    public void Every_test_class_of_every_test_project_has_exactly_one_tier()
    {
        var problems = new List<string>();
        var projects = TestProjects();
        Assert.NotEmpty(projects);

        foreach (var project in projects)
        {
            var classes = TestClassTiers(project);
            if (classes.Count == 0)
            {
                // Guards the check itself: a project whose tests this reading misses would pass unchecked.
                problems.Add($"{project}: no test class found in {BuiltAssembly(project)}");
            }

            foreach (var (testClass, tiers) in classes)
            {
                if (tiers.Count != 1 || !Tiers.Contains(tiers[0]))
                {
                    var found = tiers.Count == 0 ? "none" : string.Join(", ", tiers);
                    problems.Add($"{project}: {testClass} has Tier {found}; give it exactly one of {string.Join(", ", Tiers)} "
                        + "([Trait(\"Tier\", \"…\")] on the class, or [assembly: AssemblyTrait(\"Tier\", \"…\")] when the whole project is one tier)");
                }
            }
        }

        Assert.True(problems.Count == 0, "Tests without exactly one tier (docs/testing.md):\n" + string.Join("\n", problems));
    }

    /// <summary>Every test project under tests/ (the test SDK marks it: TestInfrastructure references xunit too), by folder name.</summary>
    private static List<string> TestProjects() =>
        Directory.GetDirectories(Path.Combine(RepositoryLayout.Root, "tests"))
            .Select(folder => Path.Combine(folder, $"{Path.GetFileName(folder)}.csproj"))
            .Where(csproj => File.Exists(csproj) && File.ReadAllText(csproj).Contains("Include=\"Microsoft.NET.Test.Sdk\"", StringComparison.Ordinal))
            .Select(csproj => Path.GetFileNameWithoutExtension(csproj))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static string BuiltAssembly(string project)
    {
        var configuration = Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var path = Path.Combine(RepositoryLayout.Root, "tests", project, "bin", configuration, "net10.0", $"EventBackbone.{project}.dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{project} is not built at {path}; build the solution (`dotnet build EventBackbone.sln -c {configuration}`).", path);
    }

    /// <summary>Each test class (a concrete class with a test method, its own or inherited) and the Tier values its tests get.</summary>
    private static Dictionary<string, List<string>> TestClassTiers(string project)
    {
        var path = BuiltAssembly(project);
        var runtime = RuntimeEnvironment.GetRuntimeDirectory();
        // The test projects that host ASP.NET Core reference its shared framework, installed beside the runtime's.
        var aspNetCore = runtime.Replace("Microsoft.NETCore.App", "Microsoft.AspNetCore.App", StringComparison.Ordinal);
        var candidates = Directory.GetFiles(Path.GetDirectoryName(path)!, "*.dll")
            .Concat(Directory.GetFiles(runtime, "*.dll"))
            .Concat(Directory.Exists(aspNetCore) ? Directory.GetFiles(aspNetCore, "*.dll") : []);
        using var context = new MetadataLoadContext(new PathAssemblyResolver(candidates));
        var assembly = context.LoadFromAssemblyPath(path);
        var assemblyTiers = Tier(assembly.GetCustomAttributesData(), "Xunit.AssemblyTraitAttribute").ToList();

        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes().Where(type => type.IsClass && !type.IsAbstract))
        {
            var hierarchy = Hierarchy(type).ToList();
            var testMethods = hierarchy
                .SelectMany(declaring => declaring.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
                .Where(method => method.GetCustomAttributesData().Any(attribute => IsFact(attribute.AttributeType)))
                .ToList();
            if (testMethods.Count == 0)
            {
                continue;
            }

            var classTiers = hierarchy.SelectMany(declaring => Tier(declaring.GetCustomAttributesData(), "Xunit.TraitAttribute")).ToList();
            // Every method's own tiers join its class's: a method that adds one gives its class two, which the check reports.
            var tiers = assemblyTiers.Concat(classTiers)
                .Concat(testMethods.SelectMany(method => Tier(method.GetCustomAttributesData(), "Xunit.TraitAttribute")))
                .ToList();
            result[type.FullName!] = tiers;
        }

        return result;
    }

    private static IEnumerable<Type> Hierarchy(Type type)
    {
        for (var current = type; current is not null && current.FullName != "System.Object"; current = current.BaseType)
        {
            yield return current;
        }
    }

    /// <summary>[Fact], [Theory] and any attribute derived from them, as xunit discovers tests.</summary>
    private static bool IsFact(Type attributeType)
    {
        for (var current = attributeType; current is not null; current = current.BaseType)
        {
            if (current.FullName == "Xunit.FactAttribute")
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<string> Tier(IEnumerable<CustomAttributeData> attributes, string traitAttribute) =>
        attributes
            .Where(attribute => attribute.AttributeType.FullName == traitAttribute
                && attribute.ConstructorArguments.Count == 2
                && Equals(attribute.ConstructorArguments[0].Value, TierTrait))
            .Select(attribute => (string)attribute.ConstructorArguments[1].Value!);
}
