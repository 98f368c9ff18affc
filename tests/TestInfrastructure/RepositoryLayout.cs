using System.Reflection;

namespace EventBackbone.TestInfrastructure;

/// <summary>Finds the repository and the built host assemblies, for tests that run the real processes.</summary>
public static class RepositoryLayout
{
    public static string Root { get; } = FindRoot();

    /// <summary>The host's built assembly, in the same configuration (Debug/Release) as the running tests.</summary>
    public static string HostAssembly(string project) => BuiltAssembly("src", project);

    /// <summary>A helper program built from <c>tests/</c> (e.g. a probe that a test SIGKILLs).</summary>
    public static string TestProgramAssembly(string project) => BuiltAssembly("tests", project);

    private static string BuiltAssembly(string folder, string project)
    {
        var configuration = Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration
            ?? "Debug";
        var path = Path.Combine(Root, folder, project, "bin", configuration, "net10.0", $"EventBackbone.{project}.dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException(
                $"The {project} host is not built at {path}; build the solution (the test projects reference the hosts so "
                + "`dotnet test EventBackbone.sln` builds them first).", path);
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "EventBackbone.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No EventBackbone.sln above {AppContext.BaseDirectory}.");
    }
}
